# Where `cmake --install` (and the .deb) puts things: GNUInstallDirs, so
# bin/, lib/ (or what CMAKE_INSTALL_LIBDIR says), include/, share/.
#
# An installed executable finds the installed library through its RPATH,
# relative to itself ($ORIGIN), so the tree works wherever it is installed
# or extracted (`cmake --install build --prefix ANY`, `dpkg-deb -x`).
# PROCACTOR_BINDIR_TO_LIBDIR is that relative path ("../lib" by default);
# the launcher also looks there for plugins named by file name alone
# (launcher/plugin_path.hpp).
include(GNUInstallDirs)
file(RELATIVE_PATH PROCACTOR_BINDIR_TO_LIBDIR ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
if(PROCACTOR_BINDIR_TO_LIBDIR STREQUAL "")
  set(PROCACTOR_BINDIR_TO_LIBDIR ".")
endif()
# The same for the documentation, which `procactor status` names.
file(RELATIVE_PATH PROCACTOR_BINDIR_TO_DOCDIR ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_DOCDIR})
set(PROCACTOR_INSTALL_RPATH "$ORIGIN/${PROCACTOR_BINDIR_TO_LIBDIR}")

# The RPATH a target gets when installed (in the build tree CMake's own
# absolute one stays): an executable that links the runtime finds it
# relative to itself, a plugin next to itself ($ORIGIN).
function(procactor_install_rpath target)
  get_target_property(type ${target} TYPE)
  if(type STREQUAL "EXECUTABLE")
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "${PROCACTOR_INSTALL_RPATH}")
  else()
    set_target_properties(${target} PROPERTIES INSTALL_RPATH "$ORIGIN")
  endif()
endfunction()
