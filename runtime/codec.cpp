#include "procactor/codec.hpp"

namespace procactor::detail {

encoder& thread_encoder() {
  // initial-exec: this library is linked, never dlopen'ed, so its TLS can
  // use the fast model instead of a __tls_get_addr call per message.
  thread_local encoder instance __attribute__((tls_model("initial-exec")));
  return instance;
}

}  // namespace procactor::detail
