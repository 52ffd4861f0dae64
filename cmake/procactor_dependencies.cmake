# What a missing dependency fails with: its name, the Debian package that
# has it, and where one can do without it, the option that does
# (CMake's own text names neither).
#
#   procactor_find_package(NAME DEBIAN_PACKAGE HINT [find_package arguments...])
#   procactor_find_path(VAR HEADER NAME DEBIAN_PACKAGE HINT)
#
# HINT is appended to the message: "" or e.g. ", or configure with
# -DPROCACTOR_BUILD_TESTS=OFF". A macro, so that what find_package sets is
# set in the caller's scope.
macro(procactor_find_package name debian hint)
  find_package(${name} ${ARGN} QUIET)
  if(NOT ${name}_FOUND)
    set(procactor_wanted "${name}")
    set(procactor_args ${ARGN})
    if(procactor_args MATCHES "^[0-9]")
      list(GET procactor_args 0 procactor_version)
      string(APPEND procactor_wanted " ${procactor_version} or later")
    endif()
    message(FATAL_ERROR "${procactor_wanted} not found: apt-get install ${debian} (its Debian package)${hint}")
  endif()
endmacro()

macro(procactor_find_path var header name debian hint)
  find_path(${var} ${header})
  if(NOT ${var})
    message(FATAL_ERROR "${name} (${header}) not found: apt-get install ${debian} (its Debian package)${hint}")
  endif()
endmacro()

set(PROCACTOR_NEEDED_BY_LAUNCHER ", or configure with -DPROCACTOR_BUILD_LAUNCHER=OFF (the library alone)")
set(PROCACTOR_NEEDED_BY_TESTS ", or configure with -DPROCACTOR_BUILD_TESTS=OFF")
set(PROCACTOR_NEEDED_BY_BENCH ", or configure with -DPROCACTOR_BUILD_BENCH=OFF")
