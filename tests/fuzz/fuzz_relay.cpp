// fuzz-relay: the lines of a multi-node run's relay (cluster_control.hpp):
// the request lines a node reads on its standard input, and the frames the
// launching process reads from mpirun's standard output, where they share
// the stream with whatever the actors print. Both parsers take any bytes
// and never throw (they are noexcept: a throw would terminate a node or the
// launcher).
//
// Every input goes to both. A request line that is accepted must survive a
// round trip through request_line with the same id, node and request; one
// that is refused comes with a reason that fits on the "error: ..." line
// its sender gets. A frame that is accepted must be written again by
// reply_frame, ready_frame, final_frame, event_frame or inspected_frame as one
// line that reads back equal.
#include <string>
#include <string_view>
#include <variant>

#include "cluster_control.hpp"
#include "fuzz_support.hpp"

using namespace procactor::launcher;

namespace {

void request_lines(std::string_view line) {
  const auto parsed = relay::parse_request_line(line);
  if (const auto* reason = std::get_if<std::string>(&parsed)) {
    fuzz::require(!reason->empty(), "a refused request line without a reason");
    fuzz::require(reason->find('\n') == std::string::npos, "a refusal that does not fit on one line");
    return;
  }
  const relay::addressed_request& request = std::get<relay::addressed_request>(parsed);
  fuzz::require(relay::request_id(line) == request.id, "request_id disagrees with an accepted line");
  const std::string again = relay::request_line(request.id, request.node, request.request);
  fuzz::require(again.find('\n') == std::string::npos, "a request line with a newline in it");
  const auto reparsed = relay::parse_request_line(again);
  fuzz::require(std::holds_alternative<relay::addressed_request>(reparsed), "request_line wrote a line that is refused");
  const relay::addressed_request& back = std::get<relay::addressed_request>(reparsed);
  fuzz::require(back.id == request.id, "a request's id changed in a round trip");
  fuzz::require(back.node == request.node, "a request's node changed in a round trip");
  fuzz::require(back.request == request.request, "a request changed in a round trip");
}

void frames(std::string_view line) {
  const auto parsed = relay::parse_frame(line);
  if (!parsed) return;
  const relay::frame& f = *parsed;
  fuzz::require(line.starts_with(relay::frame_mark), "a frame without the frame mark was accepted");
  const std::string again = f.kind == relay::frame::Kind::ready           ? relay::ready_frame(f.node, f.count)
                            : f.kind == relay::frame::Kind::final_status  ? relay::final_frame(f.node, f.text)
                            : f.kind == relay::frame::Kind::event         ? relay::event_frame(f.node, f.text)
                            : f.kind == relay::frame::Kind::final_inspect ? relay::inspected_frame(f.node, f.text)
                                                                          : relay::reply_frame(f.id, f.node, f.text);
  fuzz::require(again.starts_with(relay::frame_mark), "a frame written without the frame mark");
  fuzz::require(again.find('\n') == std::string::npos, "a frame written over more than one line");
  const auto reparsed = relay::parse_frame(again);
  fuzz::require(reparsed.has_value(), "a frame written again is not read back");
  fuzz::require(*reparsed == f, "a frame changed in a round trip");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  request_lines(line);
  frames(line);
  return 0;
}
