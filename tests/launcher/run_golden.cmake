# Runs `procactor validate [ARGS] CASE.toml` from the golden folder, so the
# file name in each diagnostic is exactly as the user typed it, and compares
# stderr with CASE.expected byte for byte. A case whose expected stderr is
# empty must exit 0 (and print CASE.stdout when that file exists); any other
# must exit 2 and print nothing on stdout.
#
#   cmake -DPROCACTOR=path/to/procactor -DGOLDEN_DIR=... -DCASE=name
#         [-DARGS=--file-only] [-DUPDATE=ON] -P run_golden.cmake
#
# UPDATE=ON rewrites CASE.expected from the actual output; review the diff.
foreach(required PROCACTOR GOLDEN_DIR CASE)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "run_golden.cmake needs -D${required}=...")
  endif()
endforeach()

string(REPLACE "|" ";" extra_args "${ARGS}")
execute_process(
  COMMAND ${PROCACTOR} validate ${extra_args} ${CASE}.toml
  WORKING_DIRECTORY ${GOLDEN_DIR}
  RESULT_VARIABLE exit_code
  OUTPUT_VARIABLE actual_stdout
  ERROR_VARIABLE actual_stderr)

if(UPDATE)
  file(WRITE ${GOLDEN_DIR}/${CASE}.expected "${actual_stderr}")
  message(STATUS "updated ${CASE}.expected (exit ${exit_code})")
  return()
endif()

file(READ ${GOLDEN_DIR}/${CASE}.expected expected_stderr)
set(failures "")
if(NOT actual_stderr STREQUAL expected_stderr)
  string(APPEND failures "stderr differs.\n--- expected\n${expected_stderr}--- actual\n${actual_stderr}---\n")
endif()
if(expected_stderr STREQUAL "")
  set(expected_exit 0)
else()
  set(expected_exit 2)
endif()
if(NOT exit_code STREQUAL expected_exit)
  string(APPEND failures "exit code ${exit_code}, expected ${expected_exit}\n")
endif()
if(EXISTS ${GOLDEN_DIR}/${CASE}.stdout)
  file(READ ${GOLDEN_DIR}/${CASE}.stdout expected_stdout)
else()
  set(expected_stdout "")
endif()
if(NOT actual_stdout STREQUAL expected_stdout)
  string(APPEND failures "stdout differs.\n--- expected\n${expected_stdout}--- actual\n${actual_stdout}---\n")
endif()
if(failures)
  message(FATAL_ERROR "golden case ${CASE}: ${failures}")
endif()
