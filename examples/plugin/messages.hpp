// The messages of the example graphs (examples/graphs/*.toml).
#pragma once

#include <cstdint>
#include <procactor/procactor.hpp>
#include <string>

namespace examples {

struct Range {
  std::int64_t from = 0;  // inclusive
  std::int64_t to = 0;    // exclusive
  template <class Archive>
  void serialize(Archive& archive) {
    archive(from, to);
  }
};

struct Count {
  std::int64_t value = 0;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(value);
  }
};

struct Word {
  std::string word;
  std::int64_t count = 0;
  // key_hash routes send every occurrence of a word to the same counter.
  [[nodiscard]] const std::string& key() const { return word; }
  template <class Archive>
  void serialize(Archive& archive) {
    archive(word, count);
  }
};

}  // namespace examples

PROCACTOR_MESSAGE(examples::Range);
PROCACTOR_MESSAGE(examples::Count);
PROCACTOR_MESSAGE(examples::Word);
