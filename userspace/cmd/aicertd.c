// SPDX-License-Identifier: BSD-2-Clause
/*
 * aicertd - the monitor for training hosts: loads the BPF programs once, owns the TPM PCR and the
 * host's event log, and traces every run on the host: the commands its clients (aicert-trace,
 * including unprivileged users) hand it, and the cgroups the policy's track: globs name. One
 * bundle per finished run lands under the spool. The work is in userspace/trace/daemon.c; this
 * file is the command line, the --config file and the detaching.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "lib/ipc.h"
#include "lib/log.h"
#include "trace/daemon.h"
#include "trace/eventlog.h"
#include "trace/hostopts.h"

#define DEFAULT_CACHE_DIR "/var/lib/aicert/cache"

static void usage(FILE *f)
{
	fprintf(f,
"Usage: aicertd [OPTIONS]\n"
"The aicert monitor for training hosts. It loads the BPF programs once, owns the TPM PCR and\n"
"the host's event log, and traces every run on the host:\n"
"  - commands handed to it by aicert-trace over its socket (any user: no root needed), each\n"
"    placed in a cgroup of its own before it executes anything;\n"
"  - cgroups that the policy's track: globs name (a Slurm job step, a Kubernetes pod, a\n"
"    systemd unit), picked up when they appear, with their whole subtree.\n"
"Each finished run's bundle is written under the spool, SPOOL/<run id>/, and delivered to the\n"
"aicert-trace that started it. Users see and fetch only their own runs (aicert runs); root\n"
"sees all.\n"
"\n"
"Options:\n"
"      --config FILE      read options from FILE: a YAML mapping of these long option names\n"
"                         to values (e.g. \"spool: /srv/aicert\", \"no-tpm: true\"); options on\n"
"                         the command line win\n"
"      --socket PATH      the clients' socket (default $AICERT_SOCKET, else " IPC_SOCKET_DEFAULT ")\n"
"      --state-dir DIR    the host's event log (DIR/<boot id>/events.cel) and aicertd's state\n"
"                         (DIR/aicertd/: the lock, the active runs, the history);\n"
"                         default " EVLOG_STATEDIR "\n"
"      --spool DIR        where bundles are written (default STATE-DIR/runs)\n"
"  -p, --policy FILE      the host policy (excludes, categories, track:); default: the\n"
"                         built-in one. A client may bring its own for its run. SIGHUP\n"
"                         reloads FILE; a policy with an error is refused (FILE:LINE:COL)\n"
"                         and the old one stays\n"
"      --tcti TCTI        TPM to use (default: $TPM2TOOLS_TCTI, then device:/dev/tpmrm0)\n"
"      --no-tpm           unattested bundles: nothing is extended or quoted; said loudly\n"
"      --pcr N            dedicated PCR (default 15; 16 and 23 need --allow-resettable-pcr)\n"
"      --allow-resettable-pcr\n"
"      --ak-alg ecc|rsa   the attestation key (default ecc), kept at --ak-handle (default\n"
"                         0x81010020)\n"
"      --ak-handle H\n"
"      --tpm-timeout S    a TPM command that takes longer than S seconds fails (default 60)\n"
"      --extend-rate N    at most N batched PCR extends per second per run (default 10)\n"
"      --backend B        auto (default) | lsm | tracepoint\n"
"      --cache DIR        persistent hash cache (default " DEFAULT_CACHE_DIR ")\n"
"      --no-cache         hash everything, keep no cache\n"
"  -j, --jobs N           hash threads per run (default: all cores); a client may ask fewer\n"
"      --foreground       stay in the foreground, log to stderr (what the systemd unit uses).\n"
"                         Otherwise aicertd detaches once its socket is ready and logs to\n"
"                         STATE-DIR/aicertd/aicertd.log\n"
"  -v, --verbose          debug messages\n"
"  -q, --quiet            only errors\n"
"  -h, --help             this text\n"
"      --version          print the version\n"
"\n"
"Signals: SIGHUP reloads the policy; SIGTERM or SIGINT stops: every active run's bundle is\n"
"written, marked incomplete (\"monitor stopped\"). After a crash (SIGKILL), the next start\n"
"writes the bundle of every run that was active, marked incomplete (\"monitor restarted\");\n"
"their processes, if any are left, are not claimed as traced.\n"
"Needs root (CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN).\n"
"Example: aicertd --foreground --tcti swtpm:host=127.0.0.1,port=2321\n");
}

struct cli {
	struct daemon_opts d;
	const char *config;
	int foreground, verbosity, version, help;
};

enum { O_CONFIG = 256, O_SOCKET, O_STATE, O_SPOOL, O_TCTI, O_NOTPM, O_PCR, O_RESETTABLE, O_AKALG,
       O_AKHANDLE, O_TPMTIMEOUT, O_RATE, O_BACKEND, O_CACHE, O_NOCACHE, O_FOREGROUND,
       O_VERSION };

static const struct option longopts[] = {
	{ "config", required_argument, NULL, O_CONFIG },
	{ "socket", required_argument, NULL, O_SOCKET },
	{ "state-dir", required_argument, NULL, O_STATE },
	{ "spool", required_argument, NULL, O_SPOOL },
	{ "policy", required_argument, NULL, 'p' },
	{ "tcti", required_argument, NULL, O_TCTI },
	{ "no-tpm", no_argument, NULL, O_NOTPM },
	{ "pcr", required_argument, NULL, O_PCR },
	{ "allow-resettable-pcr", no_argument, NULL, O_RESETTABLE },
	{ "ak-alg", required_argument, NULL, O_AKALG },
	{ "ak-handle", required_argument, NULL, O_AKHANDLE },
	{ "tpm-timeout", required_argument, NULL, O_TPMTIMEOUT },
	{ "extend-rate", required_argument, NULL, O_RATE },
	{ "backend", required_argument, NULL, O_BACKEND },
	{ "cache", required_argument, NULL, O_CACHE },
	{ "no-cache", no_argument, NULL, O_NOCACHE },
	{ "jobs", required_argument, NULL, 'j' },
	{ "foreground", no_argument, NULL, O_FOREGROUND },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ 0 },
};

/* One option; where says where it came from (for messages). 0 or -1. */
static int apply(struct cli *c, int opt, const char *arg, const char *where)
{
	switch (opt) {
	case O_CONFIG: c->config = arg; break;
	case O_SOCKET: c->d.socket = arg; break;
	case O_STATE: c->d.state_dir = arg; break;
	case O_SPOOL: c->d.spool = arg; break;
	case 'p': c->d.policy = arg; break;
	case O_TCTI: c->d.tcti = arg; break;
	case O_NOTPM: c->d.no_tpm = true; break;
	case O_PCR: return hostopt_pcr(where, arg, &c->d.pcr);
	case O_RESETTABLE: c->d.allow_resettable = true; break;
	case O_AKALG: return hostopt_ak_alg(where, arg, &c->d.ak.alg);
	case O_AKHANDLE: return hostopt_ak_handle(where, arg, &c->d.ak.handle);
	case O_TPMTIMEOUT: return hostopt_tpm_timeout(where, arg, &c->d.tpm_timeout);
	case O_RATE: return hostopt_extend_rate(where, arg, &c->d.batch_hz);
	case O_BACKEND: return hostopt_backend(where, arg, &c->d.backend);
	case O_CACHE: c->d.cache_dir = arg; break;
	case O_NOCACHE: c->d.cache_dir = NULL; break;
	case 'j': return hostopt_jobs(where, arg, &c->d.jobs);
	case O_FOREGROUND: c->foreground = 1; break;
	case 'v': c->verbosity = LOG_DEBUG; break;
	case 'q': c->verbosity = LOG_QUIET; break;
	case 'h': c->help = 1; break;
	case O_VERSION: c->version = 1; break;
	default: return -1;
	}
	return 0;
}

static int truthy(const char *v, int *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on"))
		return *out = 1, 0;
	if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off"))
		return *out = 0, 0;
	return -1;
}

/*
 * --config FILE: a flat YAML mapping, long option name -> value (true/false for the flags).
 * Strings it keeps are leaked on purpose: they live as long as the daemon.
 */
static int load_config(struct cli *c, const char *path)
{
	FILE *f = fopen(path, "re");
	yaml_parser_t p;
	yaml_event_t e;
	char *key = NULL, where[PATH_MAX + 64];
	int depth = 0, ret = -1, done = 0;
	size_t line = 0, col = 0;

	if (!f) {
		log_err("--config %s: %s", path, strerror(errno));
		return -1;
	}
	yaml_parser_initialize(&p);
	yaml_parser_set_input_file(&p, f);
	while (!done) {
		if (!yaml_parser_parse(&p, &e)) {
			log_err("%s:%zu:%zu: %s", path, p.problem_mark.line + 1,
				p.problem_mark.column + 1, p.problem ? p.problem : "not YAML");
			goto out;
		}
		line = e.start_mark.line + 1;
		col = e.start_mark.column + 1;
		snprintf(where, sizeof(where), "%s:%zu:%zu: ", path, line, col);
		switch (e.type) {
		case YAML_STREAM_END_EVENT: done = 1; break;
		case YAML_MAPPING_START_EVENT:
			if (++depth > 1) {
				log_err("%sexpected a value, found a mapping", where);
				goto fail;
			}
			break;
		case YAML_MAPPING_END_EVENT: depth--; break;
		case YAML_SEQUENCE_START_EVENT:
			log_err("%sexpected a value, found a list", where);
			goto fail;
		case YAML_ALIAS_EVENT:
			log_err("%saliases are not allowed", where);
			goto fail;
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)e.data.scalar.value;

			if (depth != 1) {
				log_err("%sthe config file must be a mapping of option names", where);
				goto fail;
			}
			if (!key) {
				if (!(key = strdup(v)))
					goto fail;
				break;
			}
			{
				const struct option *o;
				int flag;

				for (o = longopts; o->name && strcmp(o->name, key); o++)
					;
				if (!o->name || o->val == O_CONFIG || o->val == 'h' ||
				    o->val == O_VERSION) {
					log_err("%sunknown option '%s'", where, key);
					goto fail;
				}
				if (o->has_arg == no_argument) {
					if (truthy(v, &flag)) {
						log_err("%s%s: '%s' is not true or false", where, key, v);
						goto fail;
					}
					if (flag && apply(c, o->val, NULL, where))
						goto fail;
				} else {
					char *val = strdup(v);

					if (!val || apply(c, o->val, val, where))
						goto fail;
				}
			}
			free(key);
			key = NULL;
			break;
		}
		default: break;
		}
		yaml_event_delete(&e);
		continue;
fail:
		yaml_event_delete(&e);
		goto out;
	}
	ret = 0;
out:
	free(key);
	yaml_parser_delete(&p);
	fclose(f);
	return ret;
}

static int parse(struct cli *c, int argc, char **argv)
{
	int opt;

	/* the config first (its options are overridden by the command line's) */
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			c->config = argv[i + 1];
		else if (!strncmp(argv[i], "--config=", 9))
			c->config = argv[i] + 9;
	}
	if (c->config && load_config(c, c->config))
		return -1;
	while ((opt = getopt_long(argc, argv, "p:j:vqh", longopts, NULL)) != -1) {
		if (apply(c, opt, optarg, "")) {
			fprintf(stderr, "Try 'aicertd --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		fprintf(stderr, "Try 'aicertd --help'.\n");
		return -1;
	}
	if (tpm_pcr_check((uint32_t)(c->d.pcr ? c->d.pcr : TPM_PCR_DEFAULT), c->d.allow_resettable))
		return -1;
	return 0;
}

/*
 * Without --foreground: the parent waits until the daemon's socket listens (a byte on a pipe)
 * and exits 0, or 1 when the daemon died first; the daemon logs to STATE-DIR/aicertd/aicertd.log.
 */
static int detach(struct cli *c)
{
	char log[PATH_MAX + 32], dir[PATH_MAX + 16];
	const char *state = c->d.state_dir ? c->d.state_dir : EVLOG_STATEDIR;
	int p[2], fd;
	pid_t pid;
	char b;

	snprintf(dir, sizeof(dir), "%s/aicertd", state);
	mkdir(state, 0755);
	mkdir(dir, 0700);
	snprintf(log, sizeof(log), "%s/aicertd.log", dir);
	if (pipe2(p, O_CLOEXEC)) {
		log_err("cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		log_err("cannot fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &b, 1) == 1)
			exit(0);
		/* the daemon's own last words (why it did not start) */
		{
			char line[1024], last[1024] = "";
			FILE *f = fopen(log, "re");

			while (f && fgets(line, sizeof(line), f))
				if (line[0] && line[0] != '\n')
					memcpy(last, line, sizeof(last));
			if (f)
				fclose(f);
			fprintf(stderr, "%s", last[0] ? last : "aicertd: it did not start\n");
			fprintf(stderr, "aicertd: it did not start; its log is %s\n", log);
		}
		exit(1);
	}
	close(p[0]);
	setsid();
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, 0);
		close(fd);
	}
	c->d.ready_fd = p[1];
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { .d = { .cache_dir = DEFAULT_CACHE_DIR, .ready_fd = -1 },
			 .verbosity = LOG_INFO };

	log_init("aicertd", LOG_INFO);
	if (parse(&c, argc, argv))
		return 2;
	if (c.help) {
		usage(stdout);
		return 0;
	}
	if (c.version) {
		printf("aicertd %s\n", AICERT_VERSION);
		return 0;
	}
	log_init("aicertd", c.verbosity);
	if (!c.foreground && detach(&c))
		return 1;
	return daemon_main(&c.d);
}
