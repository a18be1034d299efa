// argv -> command, nothing else.
#include "cli/commands.hpp"

int main(int argc, char** argv) {
    return ds::cli::run_cli(argc, argv);
}
