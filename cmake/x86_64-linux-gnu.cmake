# Cross toolchain: Debian's g++-x86_64-linux-gnu (see cross-common.cmake). Used by ./build.sh dist:
#   cmake -S . -B build-<arch> --toolchain cmake/x86_64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release
set(DS_CROSS_TRIPLET x86_64-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
include(${CMAKE_CURRENT_LIST_DIR}/cross-common.cmake)
