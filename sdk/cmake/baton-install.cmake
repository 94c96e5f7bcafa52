# Install rules: headers, libraries, the CMake package and the pkg-config
# files. Included by the top-level CMakeLists.txt, which calls
# baton_install() once every component folder has been read.
#
# Every library is one CMake component (sdk, nng, auto...; its static twin
# is sdk_static, nng_static...) in an export set of its own, and one .pc
# file (baton, baton-nng, baton-auto...). What each needs is read from the
# targets, so the package files follow the build:
# - a shared library gives its users its PUBLIC links only (the library
#   finds its own at run time: installed libraries carry the run path
#   $ORIGIN, so one baton library finds the next beside it);
# - a static library gives them all its links.

# External libraries that baton links, and how a user finds each:
# <key for baton-config.cmake> <pkg-config module or -> <link flags>.
# A link to anything else fails the configure step, so this table cannot
# fall behind the build.
set(BATON_EXT_Threads__Threads Threads - -pthread)
set(BATON_EXT_nng__nng nng - -lnng) # Debian ships no nng.pc
set(BATON_EXT_CURL__libcurl CURL libcurl -lcurl)
set(BATON_EXT_ZLIB__ZLIB ZLIB zlib -lz)
set(BATON_EXT_PkgConfig__JANSSON jansson jansson -ljansson)
set(BATON_EXT_PkgConfig__PROTOBUF_C protobuf-c libprotobuf-c -lprotobuf-c)
set(BATON_EXT_m - - -lm)

# baton_link_items(<target> <PUBLIC|ALL> <out>): the link items of target
# that its users need: the PUBLIC ones (INTERFACE_LINK_LIBRARIES), or all.
function(baton_link_items t which out)
  if(which STREQUAL "PUBLIC")
    get_target_property(items ${t} INTERFACE_LINK_LIBRARIES)
  else()
    get_target_property(items ${t} LINK_LIBRARIES)
  endif()
  set(r "")
  foreach(i IN LISTS items)
    # (::@... marks links made from another folder: the auto exporter's)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" i "${i}")
    if(i AND NOT i MATCHES "^::@")
      list(APPEND r ${i})
    endif()
  endforeach()
  set(${out} ${r} PARENT_SCOPE)
endfunction()

# baton_component_of(<target> <out>): the component a baton library target
# belongs to (its export name), or "" for a helper library.
function(baton_component_of t out)
  get_target_property(type ${t} TYPE)
  get_target_property(name ${t} EXPORT_NAME)
  if(type STREQUAL "SHARED_LIBRARY" OR t MATCHES "_static$")
    set(${out} ${name} PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

function(baton_install)
  list(REMOVE_DUPLICATES BATON_INSTALL_TARGETS)
  # The core's headers, then each built component's one header.
  set(headers base.h baton.h trace.h sdk.h sampling.h processor.h w3c.h baggage.h
    envelope.h plugin.h message.h)
  foreach(c nng http console jaeger_json otlp_http remote_sampling auto)
    if(TARGET baton_${c})
      list(APPEND headers ${c}.h)
    endif()
  endforeach()
  list(TRANSFORM headers PREPEND ${PROJECT_SOURCE_DIR}/include/baton/)
  install(FILES ${headers} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/baton)

  set(table "")
  set(all_components "")
  set(shared_libs "")
  set(helpers_taken "")
  foreach(t IN LISTS BATON_INSTALL_TARGETS)
    baton_component_of(${t} comp)
    if(NOT comp)
      continue() # a helper: installed with the component that links it
    endif()
    list(APPEND all_components ${comp})
    get_target_property(type ${t} TYPE)
    if(type STREQUAL "SHARED_LIBRARY")
      list(APPEND shared_libs ${t})
      set_target_properties(${t} PROPERTIES INSTALL_RPATH "$ORIGIN")
      baton_link_items(${t} PUBLIC pending)
    else()
      baton_link_items(${t} ALL pending)
    endif()

    # Walk the links: other components, helpers (folded into this
    # component), external libraries.
    set(members ${t})
    set(deps "")
    set(finds "")
    set(exts "")
    set(helpers "")
    while(pending)
      list(POP_FRONT pending i)
      if(TARGET ${i} AND i IN_LIST BATON_INSTALL_TARGETS)
        baton_component_of(${i} dcomp)
        if(dcomp)
          list(APPEND deps ${dcomp})
        elseif(NOT i IN_LIST members)
          if(i IN_LIST helpers_taken)
            message(FATAL_ERROR "${i} is linked by two baton components")
          endif()
          list(APPEND helpers_taken ${i})
          list(APPEND members ${i})
          list(APPEND helpers ${i})
          baton_link_items(${i} ALL more)
          list(APPEND pending ${more})
        endif()
        continue()
      endif()
      string(MAKE_C_IDENTIFIER "${i}" key)
      if(NOT DEFINED BATON_EXT_${key})
        message(FATAL_ERROR "${t} links ${i}: add it to BATON_EXT_* in ${CMAKE_CURRENT_FUNCTION_LIST_FILE}")
      endif()
      list(APPEND exts ${key})
      list(GET BATON_EXT_${key} 0 find)
      if(NOT find STREQUAL "-")
        list(APPEND finds ${find})
      endif()
    endwhile()
    list(REMOVE_DUPLICATES deps)
    list(REMOVE_DUPLICATES finds)
    list(REMOVE_DUPLICATES exts)
    string(APPEND table "set(_baton_deps_${comp} \"${deps}\")\n")
    string(APPEND table "set(_baton_finds_${comp} \"${finds}\")\n")
    set(deps_${t} ${deps})
    set(exts_${t} ${exts})
    set(helpers_${t} ${helpers})

    install(TARGETS ${members} EXPORT baton-${comp}
      LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
      ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
      RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
      INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
    install(EXPORT baton-${comp} NAMESPACE baton:: FILE baton-${comp}-targets.cmake
      DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/baton)
  endforeach()

  # One .pc per library: baton (the sdk), baton-nng, baton-auto... It finds
  # its prefix relative to itself, so an installed tree can move, and gives
  # programs a run path to the libraries.
  file(RELATIVE_PATH BATON_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
  string(REGEX REPLACE "/$" "" BATON_PC_TO_PREFIX "${BATON_PC_TO_PREFIX}")
  foreach(t IN LISTS shared_libs)
    get_target_property(comp ${t} EXPORT_NAME)
    string(REPLACE "_" "-" BATON_PC_NAME "baton-${comp}")
    set(BATON_PC_DESCRIPTION "baton component baton::${comp}")
    if(comp STREQUAL "sdk")
      set(BATON_PC_NAME baton)
      set(BATON_PC_DESCRIPTION "${PROJECT_DESCRIPTION}")
    endif()
    set(BATON_PC_LIB ${t})
    # Requires: the baton libraries and the external ones with a .pc that
    # a user of the shared library links; Libs: those without a .pc.
    # Libs.private: what the static library links on top, as flags
    # (Requires.private would be demanded even by --cflags).
    set(requires "")
    foreach(d IN LISTS deps_${t})
      if(d STREQUAL "sdk")
        set(d baton)
      else()
        string(REPLACE "_" "-" d "baton-${d}")
      endif()
      list(APPEND requires "${d} = ${PROJECT_VERSION}")
    endforeach()
    set(libs "")
    foreach(key IN LISTS exts_${t})
      list(GET BATON_EXT_${key} 1 pcmod)
      list(GET BATON_EXT_${key} 2 flags)
      if(pcmod STREQUAL "-")
        list(APPEND libs ${flags})
      else()
        list(APPEND requires ${pcmod})
      endif()
    endforeach()
    set(private "")
    foreach(h IN LISTS helpers_${t}_static)
      list(APPEND private -l${h})
    endforeach()
    foreach(key IN LISTS exts_${t}_static)
      if(NOT key IN_LIST exts_${t})
        list(GET BATON_EXT_${key} 2 flags)
        list(APPEND private ${flags})
      endif()
    endforeach()
    string(REPLACE ";" ", " BATON_PC_REQUIRES "${requires}")
    string(REPLACE ";" " " BATON_PC_LIBS "${libs}")
    string(REPLACE ";" " " BATON_PC_LIBS_PRIVATE "${private}")
    configure_file(${PROJECT_SOURCE_DIR}/sdk/cmake/baton.pc.in
      ${PROJECT_BINARY_DIR}/pkgconfig/${BATON_PC_NAME}.pc @ONLY)
    install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/${BATON_PC_NAME}.pc
      DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
  endforeach()

  set(BATON_CONFIG_COMPONENTS "set(_baton_components \"${all_components}\")\n${table}")
  include(CMakePackageConfigHelpers)
  configure_package_config_file(${PROJECT_SOURCE_DIR}/sdk/cmake/baton-config.cmake.in
    ${PROJECT_BINARY_DIR}/baton-config.cmake
    INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/baton)
  write_basic_package_version_file(${PROJECT_BINARY_DIR}/baton-config-version.cmake
    COMPATIBILITY SameMinorVersion)
  install(FILES ${PROJECT_BINARY_DIR}/baton-config.cmake
    ${PROJECT_BINARY_DIR}/baton-config-version.cmake
    DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/baton)
endfunction()
