/* placeholder until the batch benchmark lands */
int main (void) { return 0; }
