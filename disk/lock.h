/*
 * Refusing to write an image someone else is using, and being refused by them.
 *
 * rximg's own writers exclude each other with flock(2). Towards QEMU, a writer
 * also holds the byte-range locks QEMU's file-posix driver checks: shared
 * locks at byte 100 + n for each permission held (0 consistent read, 1 write,
 * 3 resize) and at 200 + n for each permission not shared with others (1
 * write, 3 resize), so QEMU refuses the image ("Failed to get "write" lock")
 * whether it opens it read-write, read-only or with snapshot=on. They are OFD
 * locks where the system has them (as QEMU uses), else POSIX locks: those
 * belong to the process and go away when ANY descriptor of the file closes:
 * whatever may open the image file a second time while it is being written
 * (a backing chain, a host file read by a writing verb) closes it with
 * rx_close_file().
 */
#ifndef RX_LOCK_H
#define RX_LOCK_H

#include <sys/stat.h>

#include "rx.h"

/*
 * Take rximg's exclusive lock and QEMU's write locks on the open image (held
 * until rx_lock_release() or until fd is closed) and make sure no one else
 * uses it: another rximg or mount, QEMU (its byte locks), or any other process
 * that has the file open for writing.
 */
int rx_lock_image(struct rx_ctx *ctx, int fd);
/*
 * A reader's lock (a read-only mount, a backing file under a writer): rximg's
 * shared flock and the bytes QEMU holds on an image it opens read-only
 * (consistent read; write and resize not shared). Readers go together, but
 * neither rximg nor QEMU may write the file meanwhile, and it is refused
 * while someone holds it for writing.
 */
int rx_lock_image_shared(struct rx_ctx *ctx, int fd);
/* Drop the byte locks rx_lock_image() or rx_lock_image_shared() took on fd, before it is closed. */
void rx_lock_release(int fd);
/*
 * close(fd), except when fd is a second descriptor of a file this process
 * holds POSIX byte locks on: closing it would drop them, so it stays open
 * until rx_lock_release() of the locked one.
 */
void rx_close_file(int fd);

/* Someone else using an image: who, as far as the system tells. */
struct rx_lock_user {
	int writing;		/* holds QEMU's write lock (byte 101), or rximg's exclusive lock */
	int byte;		/* a QEMU-style byte lock it holds, or -1 for rximg's flock */
	long pid;		/* 0 if unknown */
	char name[64];		/* process name, "" if unknown */
};

/*
 * Who else holds a lock on the open image (QEMU's byte locks first, then
 * rximg's flock); 1 and *u filled if someone does, else 0. fd must hold no
 * flock of its own: to tell an unnamed byte-lock holder that is rximg, a
 * shared flock is tried on it (only then: it cannot make a writer fail, as
 * the byte lock already keeps writers out).
 */
int rx_lock_user(int fd, struct rx_lock_user *u);
/* The user in a few words: "QEMU (process 12)", "another rximg (process 7)", ... */
void rx_lock_user_name(const struct rx_lock_user *u, char *buf, size_t cap);

#endif
