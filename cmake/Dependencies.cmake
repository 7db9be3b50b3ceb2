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
find_program(WEFT_GRPC_CPP_PLUGIN grpc_cpp_plugin REQUIRED)

# Asio recycles coroutine frames and handler memory per thread, but caches
# only 2 blocks by default; a proxied request nests about 8 coroutines, so
# most frames went to malloc. Must be the same in every translation unit.
add_compile_definitions(BOOST_ASIO_RECYCLING_ALLOCATOR_CACHE_SIZE=8)
