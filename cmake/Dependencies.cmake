# Every dependency comes from a Debian 12 package (see scripts/setup.sh).
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS json)
find_package(OpenSSL 3 REQUIRED)
find_package(Protobuf REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(GRPCPP REQUIRED IMPORTED_TARGET grpc++)
pkg_check_modules(NGHTTP2 REQUIRED IMPORTED_TARGET libnghttp2)
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
find_package(yaml-cpp REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(prometheus-cpp REQUIRED COMPONENTS core)
find_package(CLI11 REQUIRED)
find_package(tl-expected REQUIRED)
find_package(GTest REQUIRED)
find_package(mimalloc 2 REQUIRED CONFIG)
find_program(WEFT_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

# Asio recycles handler memory per thread but caches only 2 blocks by
# default: 8 here. Coroutine frames are not recycled by Asio: its cache holds
# a few blocks of at most 1,020 bytes, and with ten requests in flight on a
# worker most frames missed it and went to memalign, which bypasses glibc's
# per-thread cache; plain malloc (mimalloc's, in mesh-proxy) serves them
# faster (docs/benchmarks.md).
# Both must be the same in every translation unit.
add_compile_definitions(BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=8
                        BOOST_ASIO_DISABLE_AWAITABLE_FRAME_RECYCLING)

# Logging is header-only: spdlog and fmt compile into the binaries that log,
# so mesh-proxy maps two shared libraries fewer (each costs its whole text
# in resident memory, see docs/benchmarks.md "Memory").
add_library(weft_logging INTERFACE)
target_compile_definitions(weft_logging INTERFACE SPDLOG_FMT_EXTERNAL FMT_HEADER_ONLY=1)
target_link_libraries(weft_logging INTERFACE Threads::Threads)

# A dependency a binary may link statically. Libraries name weft_dep_<name>;
# a binary with the target property WEFT_STATIC_DEPENDENCIES set gets the
# Debian static archive, every other binary the shared library. mesh-proxy
# links statically for its footprint; the control plane cannot, because
# gRPC's shared libraries bring their own shared protobuf.
set(WEFT_STATIC "$<BOOL:$<TARGET_PROPERTY:WEFT_STATIC_DEPENDENCIES>>")
function(weft_dependency name shared)
  set(archives)
  foreach(archive ${ARGN})
    find_library(WEFT_ARCHIVE_${archive} NAMES lib${archive}.a REQUIRED)
    list(APPEND archives ${WEFT_ARCHIVE_${archive}})
  endforeach()
  add_library(weft_dep_${name} INTERFACE)
  target_include_directories(weft_dep_${name} SYSTEM INTERFACE
    $<TARGET_PROPERTY:${shared},INTERFACE_INCLUDE_DIRECTORIES>)
  target_compile_definitions(weft_dep_${name} INTERFACE
    $<TARGET_PROPERTY:${shared},INTERFACE_COMPILE_DEFINITIONS>)
  target_link_libraries(weft_dep_${name} INTERFACE "$<IF:${WEFT_STATIC},${archives},${shared}>")
endfunction()

weft_dependency(protobuf protobuf::libprotobuf protobuf z)
weft_dependency(re2 PkgConfig::RE2 re2)
weft_dependency(openssl OpenSSL::SSL ssl crypto)
weft_dependency(yaml_cpp yaml-cpp yaml-cpp)
weft_dependency(boost_json Boost::json boost_json boost_container)
weft_dependency(nghttp2 PkgConfig::NGHTTP2 nghttp2)
