/* Reference for the systemd format tests: loads an environment file with the
 * same function systemd uses for EnvironmentFile= (load_env_file from
 * libsystemd-shared, v243 or later), applies the same validity check, and
 * prints each KEY=value followed by a NUL byte. Built by the tests, which
 * fail (they do not skip) when gcc, libc6-dev or libsystemd-shared is
 * missing. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

int load_env_file(FILE *f, const char *fname, char ***ret);
bool env_assignment_is_valid(const char *e);

int main(int argc, char **argv) {
	char **l = NULL;

	if (argc != 2)
		return 2;
	int r = load_env_file(NULL, argv[1], &l);
	if (r < 0) {
		fprintf(stderr, "load_env_file: %s\n", strerror(-r));
		return 1;
	}
	for (char **p = l; p && *p; p++) {
		if (!env_assignment_is_valid(*p)) {
			fprintf(stderr, "invalid assignment number %d\n", (int)(p - l));
			return 3;
		}
		fwrite(*p, 1, strlen(*p) + 1, stdout);
	}
	return 0;
}
