# The tap as a Debian package (CPack DEB): `cpack --config build/CPackConfig.cmake`
# in a configured build tree. It holds the "tap" install component only:
#   /usr/bin/propwatch
#   /etc/propwatch/propwatch.conf            (a conffile)
#   /etc/default/propwatch                   (a conffile; PROPWATCH_* variables)
#   /lib/systemd/system/propwatch.service
#   /usr/share/doc/propwatch/                README, LICENSE, CHANGELOG, operator docs
# Runtime dependencies are Debian's packages by name, computed by
# dpkg-shlibdeps from what the binary links. tests/package/run.sh builds,
# installs, runs and removes it in CI.
#
# The tap's install rules are EXCLUDE_FROM_ALL: their /etc and /lib paths are
# absolute, so a plain `cmake --install build --prefix DIR` never writes there.
include(GNUInstallDirs)

install(TARGETS propwatch RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        COMPONENT tap EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/propwatch.conf
        DESTINATION /etc/propwatch COMPONENT tap EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/propwatch.default
        DESTINATION /etc/default RENAME propwatch COMPONENT tap EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/propwatch.service
        DESTINATION /lib/systemd/system COMPONENT tap EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
              ${PROJECT_SOURCE_DIR}/deploy/debian/copyright
              ${PROJECT_SOURCE_DIR}/CHANGELOG.md
              ${PROJECT_SOURCE_DIR}/docs/deploy.md ${PROJECT_SOURCE_DIR}/docs/security.md
              ${PROJECT_SOURCE_DIR}/docs/metrics.md ${PROJECT_SOURCE_DIR}/docs/semantics.md
              ${PROJECT_SOURCE_DIR}/docs/engine.md ${PROJECT_SOURCE_DIR}/docs/trace-api.md
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/propwatch COMPONENT tap EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME propwatch)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "propwatch")
set(CPACK_PACKAGE_CONTACT "propwatch maintainers <propwatch@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "trace-context propagation health tap: OTLP in, Prometheus out")
set(CPACK_PACKAGE_DESCRIPTION
    "propwatch receives every span from an OpenTelemetry Collector (OTLP/gRPC or OTLP/HTTP) and exports the metrics that catch broken trace-context propagation: orphan spans per service and boundary, broken parents, trace starts per second, invalid traceparent headers.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# Only the "tap" component (not the engine's "devel" files), as one package.
set(CPACK_COMPONENTS_ALL tap)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # propwatch_VERSION_ARCH.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# conffiles, and maintainer scripts that reload systemd, restart a running
# tap on upgrade, and stop and disable it on removal (no-ops without systemd).
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
include(CPack)
