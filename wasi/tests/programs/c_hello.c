/* Smallest check: console output and an exit status. */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("hello from %s with %d argument(s)\n", argv[0], argc - 1);
    fprintf(stderr, "to stderr\n");
    return 3;
}
