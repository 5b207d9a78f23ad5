// The darasa command tree. run() parses argv, runs one command and returns
// its exit code: 0 success, 1 failure while working, 2 invalid input or usage.
#pragma once

namespace darasa::cli {
int run(int argc, char** argv);
}
