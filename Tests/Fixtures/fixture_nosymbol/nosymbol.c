/* A shared library that is not a Plugboard plugin: it exports no plugboard_plugin_v1. */
int some_other_library_function(int x) { return x + 1; }
