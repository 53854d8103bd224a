/* mamc.c — the command-line face of mamc (placeholder until the CLI lands). */
#include <stdio.h>
int main(void) { puts("mamc"); return 0; }
