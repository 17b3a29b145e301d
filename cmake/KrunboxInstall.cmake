# `cmake --install`: the krunbox program, its helpers, the public headers and
# the CMake package of the C++ API (find_package(krunbox) -> krunbox::krunbox).
include(CMakePackageConfigHelpers)

install(TARGETS krunbox RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
# The OCI runtime (docs/oci-runtime.md): containerd, podman and CRI-O name it by path.
if(TARGET krunbox-runc)
  install(TARGETS krunbox-runc RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
# find_helper (src/base/paths.h) looks in <prefix>/libexec/krunbox.
foreach(helper IN ITEMS krunbox-agent krunbox-vmm)
  if(TARGET ${helper})
    install(TARGETS ${helper} RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/krunbox)
  endif()
endforeach()
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/krunbox DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# The API's archive and the internal archives it needs; their headers stay
# private (only include/krunbox is installed).
install(TARGETS krunbox_api krunbox_sandbox krunbox_backend krunbox_image krunbox_proto krunbox_base
  EXPORT krunboxTargets ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}/krunbox)
set(krunbox_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/krunbox)
install(EXPORT krunboxTargets NAMESPACE krunbox:: DESTINATION ${krunbox_cmake_dir})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/krunboxConfig.cmake.in
  ${PROJECT_BINARY_DIR}/krunboxConfig.cmake INSTALL_DESTINATION ${krunbox_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/krunboxConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/krunboxConfig.cmake ${PROJECT_BINARY_DIR}/krunboxConfigVersion.cmake
  DESTINATION ${krunbox_cmake_dir})
