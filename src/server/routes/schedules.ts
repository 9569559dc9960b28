/**
 * Schedules over HTTP: each route validates with the shared schema (config/schedule-schemas.ts)
 * and calls one library method. A schedule belongs to its target queue: creating, replacing,
 * pausing, resuming and removing one needs `publish` and that queue in reach (a replace also the
 * queue it had); reading needs any key and the queue in reach, and the list shows only those.
 */
import { Type, type Static } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { ScheduleNameSchema, ScheduleSpecSchema } from "../../config/schedule-schemas.js";
import { NotFoundError } from "../../core/errors.js";
import type { ScheduleInfo } from "../../scheduler.js";
import { checkQueueAccess, reaches } from "../auth.js";
import { routeSchema } from "../route-schemas.js";
import type { ServerContext } from "../server-context.js";

export const ScheduleParams = Type.Object({ name: ScheduleNameSchema });
type Params = { Params: Static<typeof ScheduleParams> };

export function scheduleRoutes(app: FastifyInstance, { spool }: ServerContext): void {
  /** The schedule, if the key reaches its queue; `not_found` when there is none. */
  async function existing(request: FastifyRequest, name: string): Promise<ScheduleInfo> {
    const info = await spool.getSchedule(name);
    if (info === undefined) throw new NotFoundError(`schedule "${name}" does not exist`);
    checkQueueAccess(request, info.queue);
    return info;
  }

  app.get("/v1/schedules", { schema: routeSchema("schedules", "Every schedule the key reaches (by its queue)"), config: { access: "read" } }, async (request) => ({
    schedules: (await spool.schedules()).filter((info) => reaches(request, info.queue)),
  }));

  app.get<Params>(
    "/v1/schedules/:name",
    { schema: routeSchema("schedules", "A schedule: its definition, next run, last slot fired, counts", { params: ScheduleParams }), config: { access: "read" } },
    async (request) => existing(request, request.params.name),
  );

  app.put<Params & { Body: Static<typeof ScheduleSpecSchema> }>(
    "/v1/schedules/:name",
    {
      schema: routeSchema("schedules", "Create or replace a schedule (cron or everyMs); the same timing keeps its next run", { params: ScheduleParams, body: ScheduleSpecSchema }),
      config: { access: "publish" },
    },
    async (request) => {
      checkQueueAccess(request, request.body.queue);
      const before = await spool.getSchedule(request.params.name);
      if (before) checkQueueAccess(request, before.queue);
      return spool.schedule(request.params.name, request.body);
    },
  );

  app.post<Params>(
    "/v1/schedules/:name/pause",
    { schema: routeSchema("schedules", "Pause a schedule: it fires nothing until resumed", { params: ScheduleParams }), config: { access: "publish" } },
    async (request) => {
      await existing(request, request.params.name);
      return spool.pauseSchedule(request.params.name);
    },
  );

  app.post<Params>(
    "/v1/schedules/:name/resume",
    { schema: routeSchema("schedules", "Resume a schedule from its next slot after now", { params: ScheduleParams }), config: { access: "publish" } },
    async (request) => {
      await existing(request, request.params.name);
      return spool.resumeSchedule(request.params.name);
    },
  );

  app.delete<Params>(
    "/v1/schedules/:name",
    { schema: routeSchema("schedules", "Remove a schedule (its published messages stay)", { params: ScheduleParams }), config: { access: "publish" } },
    async (request, reply) => {
      await existing(request, request.params.name);
      if (!(await spool.removeSchedule(request.params.name))) throw new NotFoundError(`schedule "${request.params.name}" does not exist`);
      return reply.code(204).send();
    },
  );
}
