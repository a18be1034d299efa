# Cross toolchain: Debian's g++-i686-linux-gnu (see cross-common.cmake). Used by ./build.sh dist:
#   cmake -S . -B build-<arch> --toolchain cmake/i686-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release
set(DS_CROSS_TRIPLET i686-linux-gnu)
set(CMAKE_SYSTEM_PROCESSOR i686)
set(DS_CROSS_MULTIARCH i386-linux-gnu)
include(${CMAKE_CURRENT_LIST_DIR}/cross-common.cmake)
