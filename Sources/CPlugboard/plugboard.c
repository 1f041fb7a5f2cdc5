/* The ABI lives entirely in include/plugboard.h; SwiftPM needs one source file for a C target. */
#include "plugboard.h"
