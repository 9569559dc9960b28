/**
 * Who may call what. A route declares the scope it needs in its config (`{ access: "publish" }`);
 * the key is checked before the body is even read (401 / 403 cost nothing), and a key limited
 * to some queues is checked against the queue the request names once its params are parsed.
 * A route whose objects belong to no queue declares `unlimitedOnly`: keys with queue globs are
 * refused there. With no keys configured every request is allowed (the server then binds
 * loopback only). docs/http-api.md ("Access") lists every route with its scope and glob rule.
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from "fastify";
import type { ApiKeyIdentity, ApiKeyRing, Scope } from "../auth/api-keys.js";
import { SpoolError } from "../core/errors.js";
import { deliveryQueueName } from "../delivery/queue-names.js";
import type { ChannelName } from "../delivery/types.js";

/** `read`: any valid key. `none`: no key needed (health, docs). */
export type RouteAccess = Scope | "read" | "none";

declare module "fastify" {
  interface FastifyContextConfig {
    access?: RouteAccess;
    /** What the route reaches belongs to no queue (or to all of them): a key with queue globs is refused. */
    unlimitedOnly?: boolean;
  }
  interface FastifyRequest {
    identity: ApiKeyIdentity | undefined;
  }
}

export function forbidden(message: string): SpoolError {
  return new SpoolError("forbidden", message);
}

function allows(identity: ApiKeyIdentity, access: RouteAccess): boolean {
  if (access === "none" || access === "read") return true;
  return identity.scopes.has(access) || identity.scopes.has("admin");
}

/** Throws `forbidden` unless the request's key may reach `queue` (no-op without keys). */
export function checkQueueAccess(request: FastifyRequest, queue: string): void {
  const identity = request.identity;
  if (identity !== undefined && !identity.allowsQueue(queue)) {
    throw forbidden(`key "${identity.name}" may not use queue "${queue}"`);
  }
}

/** True if the request's key may reach `queue` (every request may, without keys). */
export function reaches(request: FastifyRequest, queue: string): boolean {
  return request.identity?.allowsQueue(queue) ?? true;
}

/** A batch belongs to its channel's queue: the key must reach `delivery.<channel>`. */
export function checkChannelAccess(request: FastifyRequest, channel: ChannelName): void {
  checkQueueAccess(request, deliveryQueueName(channel));
}

/** True if the request's key may reach the batches of `channel`. */
export function reachesChannel(request: FastifyRequest, channel: ChannelName): boolean {
  return reaches(request, deliveryQueueName(channel));
}

/** True when settling by message id must look the message's queue up first. */
export function needsQueueLookup(request: FastifyRequest): boolean {
  return request.identity?.limited === true;
}

/** A route as registered, with what its key needs. */
export interface RouteAccessEntry {
  method: string;
  url: string;
  access: RouteAccess;
  unlimitedOnly: boolean;
  /** Told apart from a route of the same method and URL by a request property (recipient-token variants). */
  constrained: boolean;
}

const registered = new WeakMap<FastifyInstance, RouteOptions[]>();

/**
 * Every route of an app built with `installAuth`, with its access: what the access table in
 * docs/http-api.md must list (test/server/auth.test.ts compares the two). Read when asked, since
 * a plugin may set a route's access after the route is announced (the docs routes).
 */
export function registeredRoutes(app: FastifyInstance): RouteAccessEntry[] {
  return (registered.get(app) ?? []).flatMap((route) =>
    [route.method].flat().map((method) => ({
      method,
      url: route.url,
      access: route.config?.access ?? "admin",
      unlimitedOnly: route.config?.unlimitedOnly === true,
      constrained: route.constraints !== undefined && Object.keys(route.constraints).length > 0,
    })),
  );
}

export function installAuth(app: FastifyInstance, keys: ApiKeyRing | undefined): void {
  app.decorateRequest("identity", undefined);
  const routes: RouteOptions[] = [];
  registered.set(app, routes);
  app.addHook("onRoute", (route) => void routes.push(route));
  if (keys === undefined || keys.size === 0) return;
  app.addHook("onRequest", async (request) => {
    const access: RouteAccess = request.routeOptions.config.access ?? "admin";
    if (access === "none") return;
    const identity = keys.authenticate(request.headers.authorization);
    if (identity === undefined) {
      throw new SpoolError("unauthorized", request.headers.authorization === undefined ? "missing Authorization: Bearer <key>" : "invalid API key");
    }
    if (!allows(identity, access)) throw forbidden(`key "${identity.name}" lacks the "${access}" scope for ${request.method} ${request.routeOptions.url}`);
    if (identity.limited && request.routeOptions.config.unlimitedOnly === true) {
      throw forbidden(`key "${identity.name}" is limited to some queues: ${request.method} ${request.routeOptions.url} needs a key without queue globs`);
    }
    request.identity = identity;
    // Path params are known before the body is read; checking here refuses early.
    const queue = (request.params as { q?: string } | undefined)?.q;
    if (queue !== undefined) checkQueueAccess(request, queue);
  });
}
