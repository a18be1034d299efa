# Cross toolchain: Debian's g++-arm-linux-gnueabihf (see cross-common.cmake). Used by ./build.sh dist:
#   cmake -S . -B build-<arch> --toolchain cmake/arm-linux-gnueabihf.cmake -DCMAKE_BUILD_TYPE=Release
set(DS_CROSS_TRIPLET arm-linux-gnueabihf)
set(CMAKE_SYSTEM_PROCESSOR arm)
include(${CMAKE_CURRENT_LIST_DIR}/cross-common.cmake)
