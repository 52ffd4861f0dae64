# Warnings and sanitizers live in INTERFACE targets that only procactor's own
# targets link, so a user's project never inherits our flags.
add_library(procactor_warnings INTERFACE)
target_compile_options(procactor_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wnull-dereference)

add_library(procactor_sanitize INTERFACE)
if(PROCACTOR_SANITIZE)
  target_compile_options(procactor_sanitize INTERFACE
    -fsanitize=${PROCACTOR_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(procactor_sanitize INTERFACE -fsanitize=${PROCACTOR_SANITIZE})
endif()
