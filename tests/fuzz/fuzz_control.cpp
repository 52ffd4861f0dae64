// fuzz-control: parse_control_request, which reads whatever a client writes
// to a run's control socket. It takes any bytes and never throws (it is
// noexcept: a throw would terminate the launcher). What it accepts must
// survive a round trip through to_request_line, and be no longer than
// max_request_bytes; what it refuses comes with a reason that fits on the
// one "error: ..." line the protocol answers with.
#include <string>
#include <string_view>
#include <variant>

#include "control_protocol.hpp"
#include "fuzz_support.hpp"

using namespace procactor::launcher;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto parsed = parse_control_request(line);
  if (const auto* reason = std::get_if<std::string>(&parsed)) {
    fuzz::require(!reason->empty(), "a refused request without a reason");
    fuzz::require(reason->find('\n') == std::string::npos, "a refusal that does not fit on one line");
    return 0;
  }
  const ControlRequest& request = std::get<ControlRequest>(parsed);
  fuzz::require(size <= max_request_bytes, "a request longer than max_request_bytes was accepted");
  const std::string again = to_request_line(request);
  fuzz::require(again.find('\n') == std::string::npos, "a request line with a newline in it");
  const auto reparsed = parse_control_request(again);
  fuzz::require(std::holds_alternative<ControlRequest>(reparsed), "to_request_line wrote a line that is refused");
  fuzz::require(std::get<ControlRequest>(reparsed) == request, "a request changed in a round trip");
  return 0;
}
