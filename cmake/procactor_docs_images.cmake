# Run by the docs-images targets (cmake/procactor_docs.cmake), in script mode:
#
#   cmake -DSOURCE_DIR=... -DWORK_DIR=... -DPROCACTOR=... -DDOT=... \
#         -DWHAT=graphs|all [-DBENCH=...] -P procactor_docs_images.cmake
#
# Each picture is made in WORK_DIR first and copied into docs/images only
# when it differs, so a failed command leaves the committed one as it was
# and an unchanged one keeps its timestamp.
cmake_minimum_required(VERSION 3.25)

foreach(needed SOURCE_DIR WORK_DIR PROCACTOR WHAT)
  if(NOT DEFINED ${needed})
    message(FATAL_ERROR "procactor_docs_images.cmake: -D${needed}=... is required")
  endif()
endforeach()
set(images ${SOURCE_DIR}/docs/images)
file(MAKE_DIRECTORY ${WORK_DIR} ${images})

# The example graphs, as `procactor graph --format dot` draws them. A
# graph's `replicas = "auto"` is drawn as this machine's CPU count.
if(NOT DOT OR NOT EXISTS "${DOT}")
  message(FATAL_ERROR "docs-images: Graphviz's dot was not found (apt-get install graphviz; "
    "then reconfigure, or -DPROCACTOR_DOT_EXECUTABLE=/path/to/dot)")
endif()
file(GLOB graphs ${SOURCE_DIR}/examples/graphs/*.toml)
list(SORT graphs)
if(NOT graphs)
  message(FATAL_ERROR "docs-images: no graph files in ${SOURCE_DIR}/examples/graphs")
endif()
foreach(graph IN LISTS graphs)
  get_filename_component(name ${graph} NAME_WE)
  set(made ${WORK_DIR}/graph-${name}.svg)
  execute_process(
    COMMAND ${PROCACTOR} graph --format dot ${graph}
    COMMAND ${DOT} -Tsvg -o ${made}
    RESULTS_VARIABLE results
    ERROR_VARIABLE errors)
  if(NOT results STREQUAL "0;0")
    message(FATAL_ERROR "docs-images: `procactor graph --format dot ${graph} | dot -Tsvg` failed "
      "(exit statuses ${results}):\n${errors}")
  endif()
  file(COPY_FILE ${made} ${images}/graph-${name}.svg ONLY_IF_DIFFERENT)
  message(STATUS "docs-images: docs/images/graph-${name}.svg")
endforeach()

if(WHAT STREQUAL "graphs")
  return()
endif()
if(NOT WHAT STREQUAL "all" OR NOT DEFINED BENCH)
  message(FATAL_ERROR "procactor_docs_images.cmake: -DWHAT=graphs, or -DWHAT=all with -DBENCH=...")
endif()

# The primes speedup against the workers: the benchmark's primes workloads
# only, full size, their JSON kept beside the picture it was drawn from.
# procactor-bench checks for /usr/bin/python3 and matplotlib before it
# measures, and says what to install. Its progress goes to stderr.
set(json ${WORK_DIR}/primes-speedup.json)
set(made ${WORK_DIR}/primes-speedup.svg)
message(STATUS "docs-images: procactor-bench --only primes --json --plot ... (minutes)")
execute_process(
  COMMAND ${BENCH} --only primes --json --plot ${made}
  OUTPUT_FILE ${json}
  RESULT_VARIABLE result)
if(NOT result STREQUAL "0")
  message(FATAL_ERROR "docs-images: procactor-bench --only primes --json --plot failed (${result}); "
    "its messages are above, its JSON (if any) in ${json}")
endif()
file(COPY_FILE ${made} ${images}/primes-speedup.svg ONLY_IF_DIFFERENT)
message(STATUS "docs-images: docs/images/primes-speedup.svg (figures: ${json})")
