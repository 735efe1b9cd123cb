#include "qwenc.h"
const char *qwenc_version(void) { return "0.1.0"; }
