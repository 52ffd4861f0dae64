# Runs `procactor ARGS...` and checks its exit code and, optionally, its
# stdout. ARGS separates arguments with '|', since ';' does not survive the
# trip through add_test.
#
#   cmake -DPROCACTOR=... -DARGS=a|b -DEXPECT_EXIT=N [-DWORKING_DIR=...]
#         [-DSTDOUT_REGEX=...] [-DSTDERR_REGEX=...] [-DSTDOUT_FILE=...] [-DPIPE_TO=prog|arg]
#         -P run_command.cmake
#
# PIPE_TO feeds stdout to another program (e.g. `dot|-Tsvg`), whose exit
# code must then be 0 too.
foreach(required PROCACTOR ARGS EXPECT_EXIT)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "run_command.cmake needs -D${required}=...")
  endif()
endforeach()
if(NOT DEFINED WORKING_DIR)
  set(WORKING_DIR ${CMAKE_CURRENT_LIST_DIR})
endif()

string(REPLACE "|" ";" args "${ARGS}")
if(DEFINED PIPE_TO)
  string(REPLACE "|" ";" pipe "${PIPE_TO}")
  execute_process(
    COMMAND ${PROCACTOR} ${args}
    COMMAND ${pipe}
    WORKING_DIRECTORY ${WORKING_DIR}
    RESULTS_VARIABLE exit_codes
    OUTPUT_VARIABLE actual_stdout
    ERROR_VARIABLE actual_stderr)
  list(GET exit_codes 0 exit_code)
  list(GET exit_codes 1 pipe_exit_code)
  if(NOT pipe_exit_code STREQUAL "0")
    message(FATAL_ERROR "${PIPE_TO} rejected the output (exit ${pipe_exit_code}):\n${actual_stderr}")
  endif()
else()
  execute_process(
    COMMAND ${PROCACTOR} ${args}
    WORKING_DIRECTORY ${WORKING_DIR}
    RESULT_VARIABLE exit_code
    OUTPUT_VARIABLE actual_stdout
    ERROR_VARIABLE actual_stderr)
endif()

if(NOT exit_code STREQUAL EXPECT_EXIT)
  message(FATAL_ERROR "procactor ${ARGS}: exit ${exit_code}, expected ${EXPECT_EXIT}\n"
                      "stdout:\n${actual_stdout}\nstderr:\n${actual_stderr}")
endif()
if(DEFINED STDOUT_REGEX AND NOT actual_stdout MATCHES "${STDOUT_REGEX}")
  message(FATAL_ERROR "procactor ${ARGS}: stdout does not match '${STDOUT_REGEX}':\n${actual_stdout}")
endif()
if(DEFINED STDERR_REGEX AND NOT actual_stderr MATCHES "${STDERR_REGEX}")
  message(FATAL_ERROR "procactor ${ARGS}: stderr does not match '${STDERR_REGEX}':\n${actual_stderr}")
endif()
if(DEFINED STDOUT_FILE)
  file(READ ${STDOUT_FILE} expected_stdout)
  if(NOT actual_stdout STREQUAL expected_stdout)
    message(FATAL_ERROR "procactor ${ARGS}: stdout differs.\n--- expected\n${expected_stdout}--- actual\n${actual_stdout}---")
  endif()
endif()
