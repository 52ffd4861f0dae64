# The pictures of the README, made again by one command from what the build
# makes (included from the top-level CMakeLists.txt, after every target):
#
#   cmake --build build --target docs-images         every picture: minutes,
#                                                    for the primes benchmark
#   cmake --build build --target docs-images-graphs  the example graphs only
#
# - docs/images/graph-<name>.svg for each examples/graphs/<name>.toml:
#   `procactor graph --format dot FILE | dot -Tsvg` (Graphviz's dot);
# - docs/images/primes-speedup.svg: `procactor-bench --only primes --json
#   --plot ...`, the primes speedup against the number of workers drawn from
#   the run's own JSON (tests/bench/plot_speedup.py, under /usr/bin/python3
#   with python3-matplotlib). The JSON is kept in <build>/docs-images/.
#
# The work is cmake/procactor_docs_images.cmake, run in script mode, where
# a pipe and each command's exit status can be checked on any generator.
# Neither target is part of `all`: the benchmark needs minutes and a quiet
# machine, and the pictures are committed, not built.
if(NOT TARGET procactor)
  return()
endif()

find_program(PROCACTOR_DOT_EXECUTABLE dot DOC "Graphviz's dot, for the docs-images targets")
set(procactor_docs_args
  -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
  -DWORK_DIR=${PROJECT_BINARY_DIR}/docs-images
  -DPROCACTOR=$<TARGET_FILE:procactor>
  -DDOT=${PROCACTOR_DOT_EXECUTABLE})

add_custom_target(docs-images-graphs
  COMMAND ${CMAKE_COMMAND} ${procactor_docs_args} -DWHAT=graphs
          -P ${CMAKE_CURRENT_LIST_DIR}/procactor_docs_images.cmake
  COMMENT "docs/images: the example graphs as SVG"
  VERBATIM)
add_dependencies(docs-images-graphs procactor)

if(TARGET procactor-bench)
  # USES_TERMINAL: the benchmark's progress lines (stderr) show while it runs,
  # and nothing else of the build runs beside it to disturb its figures.
  add_custom_target(docs-images
    COMMAND ${CMAKE_COMMAND} ${procactor_docs_args} -DWHAT=all -DBENCH=$<TARGET_FILE:procactor-bench>
            -P ${CMAKE_CURRENT_LIST_DIR}/procactor_docs_images.cmake
    COMMENT "docs/images: the example graphs and the primes speedup (procactor-bench, minutes)"
    USES_TERMINAL
    VERBATIM)
  add_dependencies(docs-images procactor procactor-bench)
else()
  add_custom_target(docs-images
    COMMAND ${CMAKE_COMMAND} -E echo
            "docs-images: the speedup plot needs procactor-bench: configure with -DPROCACTOR_BUILD_BENCH=ON"
    COMMAND ${CMAKE_COMMAND} -E false
    VERBATIM)
endif()
