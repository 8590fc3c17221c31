# The Debian package, made by CPack's DEB generator from an already-built tree:
#   scripts/package.sh            (or, in a configured and built dir: cpack --config CPackConfig.cmake)
# It installs only the `deb` component below. Those rules name Debian's paths themselves
# (/usr/bin, /lib/systemd/system, /etc/almanac, /usr/share/...), so the package is the same whatever
# CMAKE_INSTALL_PREFIX the build was configured with, and packaging never rebuilds the binary.
# docs/development.md ("The Debian package") explains the choices; tests/package checks the result.

set(ALMANAC_DEB_DOCDIR /usr/share/doc/almanac)
set(ALMANAC_DEB_MAINTAINER "almanac maintainers <maintainers@users.noreply.b-seed-8e0810fa.example>"
    CACHE STRING "The Maintainer: of the Debian package")

# The units with the package's paths (configure_file reads these variables in this scope only).
function(almanac_deb_units)
  set(CMAKE_INSTALL_FULL_BINDIR /usr/bin)
  set(CMAKE_INSTALL_FULL_SYSCONFDIR /etc)
  set(CMAKE_INSTALL_FULL_DOCDIR ${ALMANAC_DEB_DOCDIR})
  foreach(unit almanac.service almanac.socket)
    configure_file(${PROJECT_SOURCE_DIR}/systemd/${unit}.in ${PROJECT_BINARY_DIR}/packaging/${unit} @ONLY)
  endforeach()
endfunction()
almanac_deb_units()

# Debian wants compressed man pages and changelogs, compressed reproducibly (gzip -n: no name, no time).
function(almanac_gzip source target)
  execute_process(COMMAND gzip -9nc ${source} OUTPUT_FILE ${target} RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "gzip ${source}: ${status}")
  endif()
endfunction()
almanac_gzip(${ALMANAC_MAN_PAGE} ${PROJECT_BINARY_DIR}/packaging/almanac.1.gz)

# A native package's changelog.gz is a Debian changelog: one entry for this version, dated as
# CHANGELOG.md dates its release, pointing at CHANGELOG.md for what changed.
file(STRINGS ${PROJECT_SOURCE_DIR}/CHANGELOG.md ALMANAC_RELEASE_LINE
     REGEX "^## \\[${PROJECT_VERSION}\\] - [0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]$")
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/CHANGELOG.md)
if(ALMANAC_RELEASE_LINE MATCHES "([0-9]+-[0-9]+-[0-9]+)$")
  set(ALMANAC_RELEASE_DATE ${CMAKE_MATCH_1})
else()
  message(WARNING "CHANGELOG.md has no \"## [${PROJECT_VERSION}] - YYYY-MM-DD\" section: the package's changelog is dated 1970-01-01")
  set(ALMANAC_RELEASE_DATE 1970-01-01)
endif()
execute_process(COMMAND env LC_ALL=C date -u -R -d "${ALMANAC_RELEASE_DATE} 12:00:00"
                OUTPUT_VARIABLE ALMANAC_RELEASE_RFC2822 OUTPUT_STRIP_TRAILING_WHITESPACE)
file(WRITE ${PROJECT_BINARY_DIR}/packaging/changelog
  "almanac (${PROJECT_VERSION}) stable; urgency=medium\n\n"
  "  * Release ${PROJECT_VERSION}. What changed for users: ${ALMANAC_DEB_DOCDIR}/CHANGELOG.md\n\n"
  " -- ${ALMANAC_DEB_MAINTAINER}  ${ALMANAC_RELEASE_RFC2822}\n")
almanac_gzip(${PROJECT_BINARY_DIR}/packaging/changelog ${PROJECT_BINARY_DIR}/packaging/changelog.gz)

# The `deb` component: left out of a plain `cmake --install`, which keeps its own rules above.
install(TARGETS almanac RUNTIME DESTINATION /usr/bin COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_BINARY_DIR}/packaging/almanac.service ${PROJECT_BINARY_DIR}/packaging/almanac.socket
        DESTINATION /lib/systemd/system COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_SOURCE_DIR}/systemd/almanac.yaml DESTINATION /etc/almanac COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${PROJECT_BINARY_DIR}/packaging/almanac.1.gz DESTINATION /usr/share/man/man1
        COMPONENT deb EXCLUDE_FROM_ALL)
install(FILES ${ALMANAC_DOCS} ${PROJECT_SOURCE_DIR}/CHANGELOG.md ${PROJECT_SOURCE_DIR}/packaging/copyright
              ${PROJECT_BINARY_DIR}/packaging/changelog.gz
        DESTINATION ${ALMANAC_DEB_DOCDIR} COMPONENT deb EXCLUDE_FROM_ALL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME almanac)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${ALMANAC_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/package)
set(CPACK_INSTALL_CMAKE_PROJECTS "${PROJECT_BINARY_DIR};almanac;deb;/")
set(CPACK_SET_DESTDIR ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_THREADS 0)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_NAME almanac)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${ALMANAC_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION web)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: what dpkg-shlibdeps finds the binary linked against, plus the time-zone database it reads.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS tzdata)
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "nginx | apache2 | reverse-proxy")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/conffiles ${PROJECT_SOURCE_DIR}/packaging/postinst
    ${PROJECT_SOURCE_DIR}/packaging/prerm ${PROJECT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# Description's synopsis, then its extended text (CPack indents it).
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Markdown events and posts as iCalendar, RSS, Atom and JSON feeds")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"almanac turns a folder of Markdown content (events, recurring meetups,
newsletters, blog posts) into iCalendar, RSS 2.0, Atom 1.0 and JSON Feed 1.1
documents, renders every calendar in any IANA time zone, and serves them over
HTTP, rebuilding them the moment a file changes.
.
This package installs the daemon with hardened, socket-activatable systemd
units (neither enabled nor started on installation), an example configuration
in /etc/almanac, the manual page and the documentation. License: Apache-2.0.")
include(CPack)
