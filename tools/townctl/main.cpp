// townctl: the command-line client of the controller (tools/townctl/cli/run.hpp).
#include "tools/townctl/cli/run.hpp"

int main(int argc, char** argv) {
  return sc::townctl::run(argc, argv);
}
