# Warnings and sanitizers live in INTERFACE targets that only procactor's own
# targets link, so a user's project never inherits our flags.
add_library(procactor_warnings INTERFACE)
# GCC 12 at -O3 (Release) warns of overlapping copies in std::string's
# operator+ ("literal" + str, inlined) where there are none: its false
# positive https://gcc.gnu.org/bugzilla/show_bug.cgi?id=105651. That gave 11
# warnings in launcher/, none of them real: -Wrestrict is off for GCC 12 alone.
set(procactor_gcc12 "$<AND:$<CXX_COMPILER_ID:GNU>,$<VERSION_GREATER_EQUAL:$<CXX_COMPILER_VERSION>,12>,\
$<VERSION_LESS:$<CXX_COMPILER_VERSION>,13>>")
target_compile_options(procactor_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
  -Wcast-align -Woverloaded-virtual -Wnull-dereference
  $<${procactor_gcc12}:-Wno-restrict>)

add_library(procactor_sanitize INTERFACE)
# PROCACTOR_SANITIZE is a comma-separated list of these (-fsanitize=LIST);
# anything else would only fail at the first compile, or not at all.
set(PROCACTOR_SANITIZERS address undefined leak thread memory)
set_property(CACHE PROCACTOR_SANITIZE PROPERTY STRINGS "" address undefined address,undefined leak thread memory)
string(REPLACE "," ";" procactor_sanitizers "${PROCACTOR_SANITIZE}")
foreach(sanitizer IN LISTS procactor_sanitizers)
  if(NOT sanitizer IN_LIST PROCACTOR_SANITIZERS)
    string(REPLACE ";" ", " procactor_accepted "${PROCACTOR_SANITIZERS}")
    message(FATAL_ERROR "PROCACTOR_SANITIZE=${PROCACTOR_SANITIZE}: '${sanitizer}' is not a sanitizer procactor builds "
      "with; give a comma-separated list of ${procactor_accepted} (e.g. address,undefined), or nothing")
  endif()
endforeach()
if(PROCACTOR_SANITIZE)
  target_compile_options(procactor_sanitize INTERFACE
    -fsanitize=${PROCACTOR_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(procactor_sanitize INTERFACE -fsanitize=${PROCACTOR_SANITIZE})
endif()
