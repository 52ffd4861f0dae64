#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "envelope.hpp"

using namespace procactor::detail;

namespace {

std::vector<std::byte> make_record(std::uint64_t type, std::string_view payload, std::uint32_t flags = 0) {
  envelope head{type, 77, 3, flags, static_cast<std::uint32_t>(payload.size()), 0};
  head.check = envelope_check_of(head);
  std::vector<std::byte> bytes(sizeof head + payload.size());
  std::memcpy(bytes.data(), &head, sizeof head);
  std::memcpy(bytes.data() + sizeof head, payload.data(), payload.size());
  return bytes;
}

}  // namespace

TEST_CASE("an envelope round-trips through a record") {
  auto bytes = make_record(procactor::fnv1a64("calc::Add"), "payload!");
  std::string problem;
  auto parsed = parse_record(bytes, problem);
  REQUIRE(parsed);
  CHECK(parsed->head.type == procactor::fnv1a64("calc::Add"));
  CHECK(parsed->head.correlation == 77);
  CHECK(parsed->head.sender == 3);
  CHECK(std::string(reinterpret_cast<const char*>(parsed->body.data()), parsed->body.size()) == "payload!");
}

TEST_CASE("a record shorter than an envelope is rejected") {
  auto bytes = make_record(1, "x");
  std::string problem;
  CHECK_FALSE(parse_record(std::span(bytes).first(10), problem));
  CHECK(problem.find("shorter than an envelope") != std::string::npos);
}

TEST_CASE("a truncated payload is rejected") {
  auto bytes = make_record(1, "0123456789");
  std::string problem;
  CHECK_FALSE(parse_record(std::span(bytes).first(bytes.size() - 4), problem));
  CHECK(problem.find("exceeds") != std::string::npos);
}

TEST_CASE("a corrupt type or length fails the envelope's check word") {
  auto bytes = make_record(1, "abc");
  bytes[0] ^= std::byte{0x40};  // flip a bit of the type
  std::string problem;
  CHECK_FALSE(parse_record(bytes, problem));
  CHECK(problem.find("check word") != std::string::npos);
}

TEST_CASE("a blob reference must be whole and its name terminated") {
  blob_ref ref{};
  std::memset(ref.name, 'x', sizeof ref.name);  // no terminating NUL
  auto bytes = make_record(1, std::string_view(reinterpret_cast<const char*>(&ref), sizeof ref), flag_blob);
  std::string problem;
  CHECK_FALSE(parse_record(bytes, problem));
  CHECK(problem.find("not terminated") != std::string::npos);
  auto short_ref = make_record(1, "tiny", flag_blob);
  CHECK_FALSE(parse_record(short_ref, problem));
}

TEST_CASE("wire ids come from names, not from typeid") {
  static_assert(procactor::fnv1a64("calc::Add") == procactor::fnv1a64("calc::Add"));
  CHECK(procactor::fnv1a64("calc::Add") != procactor::fnv1a64("calc::Sub"));
  CHECK(procactor::fnv1a64("") == 0xcbf29ce484222325ULL);
}
