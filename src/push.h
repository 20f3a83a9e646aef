/*
 * push.h: the push worker role (push.c), a row of the process table when
 * push_gateway_url is set: it sends the durable push outbox to the push
 * gateway.
 */

#ifndef PUSH_H
#define PUSH_H

#include "worker.h"

/* The role's hooks for the process table (supervisor.c). */
extern const struct worker_ops	push_ops;

#endif /* PUSH_H */
