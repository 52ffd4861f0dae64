// A plugin that clashes with cli_actors.cpp, for the validate tests: it
// registers the actor type clitest.Relay again, and defines the message
// clitest::Tick in another way (text, where cli_actors.cpp has a number).
// Loaded after it, procactor refuses it; it is never run.
#include <procactor/procactor.hpp>

#include <string>

namespace clitest {

struct Tick {
  std::string text;
  template <class Archive>
  void serialize(Archive& archive) {
    archive(text);
  }
};

}  // namespace clitest
PROCACTOR_MESSAGE(clitest::Tick);

namespace clitest {

class Relay : public procactor::Actor<Relay, Tick> {
 public:
  void on(const Tick& tick) { emit(tick); }
};

}  // namespace clitest
PROCACTOR_ACTOR(clitest::Relay);
