# What `cmake --install` and `cpack -G DEB` ship besides the targets'
# own install rules (runtime/, launcher/, examples/ CMakeLists.txt):
#
#   lib/cmake/procactor/   procactorConfig.cmake, procactorConfigVersion.cmake,
#                          procactorTargets.cmake: find_package(procactor 0.1)
#                          gives procactor::runtime
#   lib/pkgconfig/         procactor.pc
#   share/doc/procactor/   README.md, docs/ (with images/), launcher/README.md
#                          (the graph-file reference), tests/*/README.md
#   share/bash-completion/completions/procactor, share/man/man1/procactor.1
#
# and the .deb (CPack, at the end of this file).
include(CMakePackageConfigHelpers)

set(PROCACTOR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/procactor)
install(EXPORT procactor-targets FILE procactorTargets.cmake NAMESPACE procactor::
  DESTINATION ${PROCACTOR_CMAKE_DIR})
set(PROCACTOR_BOOST_MIN 1.74)
if(PROCACTOR_CEREAL_TARGET)
  set(PROCACTOR_CEREAL_BY_PACKAGE TRUE)
else()
  set(PROCACTOR_CEREAL_BY_PACKAGE FALSE)
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/procactorConfig.cmake.in
  ${PROJECT_BINARY_DIR}/procactorConfig.cmake INSTALL_DESTINATION ${PROCACTOR_CMAKE_DIR})
# SameMinorVersion, not SameMajorVersion: procactor is 0.x, and before 1.0 a
# minor release may break the API (semver's rule for 0.y.z), so
# find_package(procactor 0.1) accepts 0.1.0, 0.1.1, ... but neither 0.2 nor
# 0.0. From 1.0 on, SameMajorVersion is the right rule.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/procactorConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/procactorConfig.cmake ${PROJECT_BINARY_DIR}/procactorConfigVersion.cmake
  DESTINATION ${PROCACTOR_CMAKE_DIR})

# pkg-config: relocatable (${pcfiledir}), so the file is right wherever the
# tree is installed or extracted.
set(PROCACTOR_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
file(RELATIVE_PATH PROCACTOR_PC_TO_PREFIX ${CMAKE_INSTALL_PREFIX}/${PROCACTOR_PC_DIR} ${CMAKE_INSTALL_PREFIX})
string(REGEX REPLACE "/$" "" PROCACTOR_PC_TO_PREFIX "${PROCACTOR_PC_TO_PREFIX}")
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(PROCACTOR_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(PROCACTOR_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/packaging/procactor.pc.in ${PROJECT_BINARY_DIR}/procactor.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/procactor.pc DESTINATION ${PROCACTOR_PC_DIR})

# The documentation, laid out as in the source tree so that its relative
# links hold: README.md, docs/*.md, docs/images/, and the READMEs it links
# to (the launcher's graph-file reference with the launcher alone).
file(GLOB procactor_docs ${PROJECT_SOURCE_DIR}/docs/*.md)
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${procactor_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/images/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs/images)
foreach(readme tests/bench/README.md tests/soak/README.md tests/fuzz/CMakeLists.txt)
  get_filename_component(readme_dir ${readme} DIRECTORY)
  install(FILES ${PROJECT_SOURCE_DIR}/${readme} DESTINATION ${CMAKE_INSTALL_DOCDIR}/${readme_dir})
endforeach()
if(TARGET procactor)
  install(FILES ${PROJECT_SOURCE_DIR}/launcher/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR}/launcher)
endif()
# README.md links examples/plugin/, installed with the example graphs under
# share/procactor/examples: DOCDIR/examples is a relative link to there.
if(TARGET procactor_examples AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_DOCDIR}"
   AND NOT IS_ABSOLUTE "${CMAKE_INSTALL_DATADIR}")
  # Relative to the prefix that `cmake --install --prefix` or cpack gives.
  file(RELATIVE_PATH procactor_doc_to_examples /prefix/${CMAKE_INSTALL_DOCDIR}
    /prefix/${CMAKE_INSTALL_DATADIR}/procactor/examples)
  install(CODE "set(link \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}/examples\")
    message(STATUS \"Installing: \${link} -> ${procactor_doc_to_examples}\")
    file(CREATE_LINK \"${procactor_doc_to_examples}\" \"\${link}\" SYMBOLIC)")
endif()

if(TARGET procactor)
  # Bash completion: it reads the subcommands and their options from
  # `procactor --help` and `procactor SUB --help` when it completes, so it
  # stays true as subcommands come and go.
  install(FILES ${PROJECT_SOURCE_DIR}/cmake/packaging/procactor.bash
    DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME procactor)

  # The man page, from the command's own --help (and each subcommand's),
  # by help2man when it is installed.
  find_program(PROCACTOR_HELP2MAN help2man)
  if(PROCACTOR_HELP2MAN)
    set(procactor_man ${PROJECT_BINARY_DIR}/man/procactor.1)
    add_custom_command(OUTPUT ${procactor_man}
      COMMAND ${CMAKE_COMMAND} -DPROCACTOR=$<TARGET_FILE:procactor> -DHELP2MAN=${PROCACTOR_HELP2MAN}
              -DVERSION=${PROJECT_VERSION} -DSTATIC_INCLUDE=${PROJECT_SOURCE_DIR}/cmake/packaging/procactor.h2m
              -DOUTPUT=${procactor_man} -P ${PROJECT_SOURCE_DIR}/cmake/packaging/make_man.cmake
      DEPENDS procactor ${PROJECT_SOURCE_DIR}/cmake/packaging/make_man.cmake ${PROJECT_SOURCE_DIR}/cmake/packaging/procactor.h2m
      COMMENT "Making the procactor(1) man page with help2man"
      VERBATIM)
    add_custom_target(procactor-man ALL DEPENDS ${procactor_man})
    install(FILES ${procactor_man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  else()
    message(STATUS "help2man not found: no procactor(1) man page (Debian: apt-get install help2man)")
  endif()
endif()

# The .deb: `cpack -G DEB` in the build directory makes
# procactor_VERSION_ARCH.deb of what `cmake --install` installs, under /usr.
# Its Depends come from dpkg-shlibdeps (dpkg-dev; it needs `file` too), run
# on the package's binaries; libprocactor.so.0, which they need, is in the
# package itself, found through their RPATH.
set(CPACK_PACKAGE_NAME procactor)
set(CPACK_PACKAGE_VENDOR "procactor")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "actors for C++20 that each run in their own OS process")
set(CPACK_PACKAGE_DESCRIPTION
  "A runtime for actors that each run in their own OS process: mailboxes are lock-free rings in shared
memory, messages are cereal-serialized, and a supervisor spawns, watches and restarts the actor processes
without losing what was queued for them. This package has the library (libprocactor.so.0), its headers,
CMake package and pkg-config file, the procactor command that launches actor graphs from TOML files, and
the example graphs with their plugin (share/procactor/examples/graphs).")
set(CPACK_PACKAGE_CONTACT "procactor maintainers <maintainers@users.noreply.r-seed-c2abecf1.example>"
  CACHE STRING "The .deb's Maintainer")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(PROCACTOR_HOMEPAGE "" CACHE STRING "The .deb's Homepage (none when empty)")
if(PROCACTOR_HOMEPAGE)
  set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "${PROCACTOR_HOMEPAGE}")
endif()
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_GENERATOR DEB)
# Stripped: RelWithDebInfo binaries are mostly DWARF (the library alone is
# 15 MB). Crash traces of the packaged binaries then name functions from
# their dynamic symbols only; a program built against the package keeps its
# own debug information, and so its file and line.
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# A shlibs file, so that packages built against this one depend on it: for
# libprocactor.so.0 alone, the one shared library with a soname. CPack's
# own (CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS) would say the same, but warn
# of each module (the dashboard, trace, MPI and example plugins, loaded
# with dlopen, no soname by design) that it leaves out.
set(procactor_shlibs ${PROJECT_BINARY_DIR}/cpack/shlibs)
file(CONFIGURE OUTPUT ${procactor_shlibs}
  CONTENT "libprocactor ${PROJECT_VERSION_MAJOR} procactor (>= ${PROJECT_VERSION})\n" @ONLY)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${procactor_shlibs})
# What a program built against the package needs besides: the headers that
# procactor's headers include (procactorConfig.cmake finds them); and with
# the multi-node transport, mpirun for graphs placed on several nodes.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libboost-dev (>= ${PROCACTOR_BOOST_MIN}), libcereal-dev, g++ (>= 4:12), cmake")
if(PROCACTOR_WITH_MPI)
  string(APPEND CPACK_DEBIAN_PACKAGE_SUGGESTS ", openmpi-bin")
endif()
# Without dpkg-shlibdeps CPack would quietly make a .deb with no Depends;
# this file, read by cpack, refuses to instead.
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/procactor_cpack_options.cmake)
# The source package (`cpack --config CPackSourceConfig.cmake`, target
# package_source): the tracked sources, not the build directories that the
# README makes in the tree (build, build-asan, build-fuzz, ...), version
# control, editor files or ctest's output.
string(REGEX REPLACE "([][+.*?()^$|\\])" "\\\\\\1" procactor_source_regex "${PROJECT_SOURCE_DIR}")
set(CPACK_SOURCE_IGNORE_FILES
  "^${procactor_source_regex}/build[^/]*(/|$)" "^${procactor_source_regex}/Testing/" "^${procactor_source_regex}/\\.gl/"
  "/\\.git/" "/\\.git$" "/\\.gitmodules$" "/CVS/" "/\\.svn/" "/\\.hg/" "/\\.bzr/" "\\.swp$" "/\\.#" "/#" "~$")
if(NOT PROJECT_BINARY_DIR STREQUAL PROJECT_SOURCE_DIR)
  string(REGEX REPLACE "([][+.*?()^$|\\])" "\\\\\\1" procactor_binary_regex "${PROJECT_BINARY_DIR}")
  list(APPEND CPACK_SOURCE_IGNORE_FILES "^${procactor_binary_regex}/")
endif()
# CPack writes them into CPackSourceConfig.cmake as they are (without
# CPACK_VERBATIM_VARIABLES), where a backslash escapes once more.
string(REPLACE "\\" "\\\\" CPACK_SOURCE_IGNORE_FILES "${CPACK_SOURCE_IGNORE_FILES}")
include(CPack)
