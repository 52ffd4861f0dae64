# Read by cpack for each generator (CPACK_PROJECT_CONFIG_FILE, set in
# cmake/procactor_packaging.cmake). The .deb's Depends are what
# dpkg-shlibdeps finds the binaries need (toml++, libdw, Open MPI, ... as
# this build was configured); without it CPack would make a .deb that
# depends on nothing, which would install and then fail to run.
if(CPACK_GENERATOR STREQUAL "DEB")
  find_program(PROCACTOR_DPKG_SHLIBDEPS dpkg-shlibdeps)
  find_program(PROCACTOR_FILE file)
  if(NOT PROCACTOR_DPKG_SHLIBDEPS OR NOT PROCACTOR_FILE)
    message(FATAL_ERROR "cpack -G DEB computes the package's Depends with dpkg-shlibdeps and file: "
      "apt-get install dpkg-dev file")
  endif()
endif()
