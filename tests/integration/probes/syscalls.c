/* A tiny static probe copied into a test rootfs: each argument names a syscall to try with arguments
 * the kernel rejects right after its permission check, or that change nothing; prints NAME ERRNO-NAME.
 * EPERM = refused (by seccomp or a missing capability); anything else = the call got past the door. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *name, long result) {
    printf("%s %s\n", name, result >= 0 ? "OK" : (errno == EPERM ? "EPERM" : errno == ENOSYS ? "ENOSYS" : "OTHER"));
}

#if defined(__x86_64__)
/* The i386 entry point from a 64-bit process: int $0x80 takes i386 numbers (keyctl is 288 there). */
static long int80(long number, long a, long b, long c) {
    long result;
    __asm__ volatile ("int $0x80" : "=a"(result) : "a"(number), "b"(a), "c"(b), "d"(c) : "memory");
    if (result < 0 && result > -4096) { errno = (int)-result; return -1; }
    return result;
}
#endif

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        errno = 0;
        if (!strcmp(name, "keyctl"))           /* KEYCTL_GET_KEYRING_ID of the session keyring, create=0 */
            report(name, syscall(SYS_keyctl, 0, -3, 0));
        else if (!strcmp(name, "add_key"))     /* an invalid key type: EINVAL past the door */
            report(name, syscall(SYS_add_key, "no-such-type", "d", "", 0, -3));
        else if (!strcmp(name, "userfaultfd"))
            report(name, syscall(SYS_userfaultfd, 0x7fffffff));   /* invalid flags: EINVAL past the door */
        else if (!strcmp(name, "clone3"))      /* size 0: EINVAL past the door */
            report(name, syscall(SYS_clone3, NULL, 0));
        else if (!strcmp(name, "unshare"))     /* a new UTS namespace of its own: harmless */
            report(name, syscall(SYS_unshare, CLONE_NEWUTS));
        else if (!strcmp(name, "bpf"))         /* an invalid command: EINVAL past the door */
            report(name, syscall(SYS_bpf, 9999, NULL, 0));
#if defined(__x86_64__)
        else if (!strcmp(name, "i386_keyctl"))  /* keyctl through the i386 entry: the same refusal? */
            report(name, int80(288, 0, -3, 0));
        else if (!strcmp(name, "x32_keyctl"))   /* keyctl's number with __X32_SYSCALL_BIT: the x32 ABI */
            report(name, syscall(0x40000000 | SYS_keyctl, 0, -3, 0));
#endif
        else
            printf("%s UNKNOWN\n", name);
    }
    return 0;
}
