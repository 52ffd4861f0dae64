# procactor(1), made by help2man from the command's own help (run by
# cmake/procactor_packaging.cmake at build time):
#
#   cmake -DPROCACTOR=bin/procactor -DHELP2MAN=help2man -DVERSION=0.1.0
#         -DSTATIC_INCLUDE=cmake/packaging/procactor.h2m -DOUTPUT=man/procactor.1
#         -P cmake/packaging/make_man.cmake
#
# `procactor --help` gives the synopsis, the options and the list of
# subcommands; each subcommand's own --help becomes a subsection of
# COMMANDS, so the page lists every subcommand the binary has.
foreach(var PROCACTOR HELP2MAN VERSION STATIC_INCLUDE OUTPUT)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "make_man.cmake: -D${var}=... is required")
  endif()
endforeach()

set(ENV{LC_ALL} C)
execute_process(COMMAND ${PROCACTOR} --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROCACTOR} --help failed (${rc})")
endif()

# The subcommands: the "Subcommands:" section, one "  name  description" each.
string(REGEX MATCH "\nSubcommands:\n(([^\n]*\n)*)" section "${top}")
string(REGEX REPLACE "\n\n.*" "" section "${CMAKE_MATCH_1}")
string(REPLACE "\n" ";" section_lines "${section}")
set(subcommands)
foreach(line IN LISTS section_lines)
  if(line MATCHES "^  ([a-z][a-z0-9_-]*)")
    list(APPEND subcommands ${CMAKE_MATCH_1})
  endif()
endforeach()
if(NOT subcommands)
  message(FATAL_ERROR "no subcommands in `${PROCACTOR} --help`")
endif()

# roff: a backslash is \e, a line that starts with . or ' is escaped.
function(roff_escape text out)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

set(include "[COMMANDS]\n")
foreach(sub IN LISTS subcommands)
  execute_process(COMMAND ${PROCACTOR} ${sub} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${PROCACTOR} ${sub} --help failed (${rc})")
  endif()
  # The exit codes footer is the same on every page: EXIT STATUS has it once.
  string(REGEX REPLACE "\nExit codes:[^\n]*\n*$" "\n" help "${help}")
  string(REGEX REPLACE "\n+$" "" help "${help}")
  # The first line is the summary; the rest (usage, positionals, options) as is.
  string(REGEX MATCH "^[^\n]*" summary "${help}")
  string(LENGTH "${summary}" summary_length)
  string(SUBSTRING "${help}" ${summary_length} -1 body)
  string(REGEX REPLACE "^\n+" "" body "${body}")
  roff_escape("${summary}" summary)
  roff_escape("${body}" body)
  string(APPEND include ".SS \"procactor ${sub}\"\n${summary}\n.PP\n.nf\n${body}\n.fi\n")
endforeach()

get_filename_component(output_dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${output_dir}")
set(generated "${OUTPUT}.commands.h2m")
file(WRITE "${generated}" "${include}")
execute_process(
  COMMAND ${HELP2MAN} --no-info --version-string=${VERSION}
          "--name=launch and manage graphs of actors that each run in their own OS process"
          --section=1 --include=${generated} --include=${STATIC_INCLUDE} --output=${OUTPUT}.tmp ${PROCACTOR}
  RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "help2man failed (${rc}): ${err}")
endif()
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
file(REMOVE "${generated}")
