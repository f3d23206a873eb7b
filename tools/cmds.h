/* cmds.h - the `cryoclean` sub-commands. Each lives in tools/cmd_<name>.c and
 * returns a process exit status (0 ok, 1 failure, 2 usage error). They are
 * declared weak so that a sub-command not yet in the build is simply absent. */
#ifndef CC_CMDS_H
#define CC_CMDS_H

#define CC_CMD(name) int cmd_##name(int argc, char **argv) __attribute__((weak))
CC_CMD(watch);
CC_CMD(sim);
CC_CMD(replay);
CC_CMD(top);
CC_CMD(classify);
CC_CMD(eval);
CC_CMD(train);
CC_CMD(plot);
CC_CMD(demo);
CC_CMD(import);
CC_CMD(alert);
CC_CMD(sev);
#undef CC_CMD

#endif
