// procactor::error — the one error type of the runtime.
//
// Errors cross process boundaries (an ask's reply can carry one), so an error
// is just a code and a message: both travel in a reply record unchanged.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace procactor {

enum class errc : std::uint8_t {
  ok = 0,
  timeout,           // no reply / no space before the deadline
  handler_threw,     // the target's handler threw; message() carries what()
  actor_died,        // the target died with the request in flight
  no_such_actor,     // an unknown name or actor type, a ref that names no actor, or the actor has exited for good
  full,              // the mailbox lane is full (try_send)
  closed,            // the mailbox was closed; it accepts nothing new
  too_large,         // the message exceeds Options::max_message_size
  decode_failed,     // the payload did not decode as the expected type
  unknown_message,   // the actor has no handler for this message type
  poisoned,          // the message crashed its actor too often; dead-lettered
  unknown_function,  // submit() of a function that is not registered
  arena_exhausted,   // the run's shared arena has no room for another lane
  system,            // a system call failed; message() names it and errno
  not_supervisor,    // a call only the supervisor process may make
  corrupt,           // shared memory failed a check (a slot entry, a lane); message() says what
  type_mismatch,     // a reply's type is not the one the asker expects; message() names both
  cancelled,         // Future::cancel() withdrew the request before it started
  invalid_argument,  // a call that cannot be made as asked: a name taken, empty or too long, past
                     // Options::max_actors, a second Runtime; message() says which
};

// A code in words, lower case ("no such actor" for errc::no_such_actor), as
// logs and `what()` begin with it.
std::string_view to_string(errc code) noexcept;

class error : public std::runtime_error {
 public:
  error(errc code, const std::string& message)
      : std::runtime_error(std::string(to_string(code)) + ": " + message), code_(code),
        message_(message) {}

  [[nodiscard]] errc code() const noexcept { return code_; }
  // The message without the "code: " prefix that what() carries.
  [[nodiscard]] const std::string& message() const noexcept { return message_; }

 private:
  errc code_;
  std::string message_;
};

// Throws error(errc::system, "<call>: <strerror(err)>").
[[noreturn]] void throw_system_error(std::string_view call, int err);

}  // namespace procactor
