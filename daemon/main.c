/* main.c - cryocleand entry point (being written; see daemon/). */
#include <stdio.h>
int main(void)
{
    fprintf(stderr, "cryocleand: not yet built\n");
    return 1;
}
