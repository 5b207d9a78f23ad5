#include "app.h"

int main(int argc, char** argv) { return darasa::cli::run(argc, argv); }
