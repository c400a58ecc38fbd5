// Liveness response.
import { Type, type Static } from '@sinclair/typebox'
import { StringEnum, Timestamp } from './common.js'

export const Health = Type.Object(
  {
    status: Type.Literal('ok'),
    version: Type.String(),
    uptime_sec: Type.Number(),
    server_time: Timestamp,
    instance_id: Type.String({ description: 'This server process among the instances (INSTANCE_ID, default host:pid)' }),
    bus: StringEnum(['none', 'ready', 'down'], {
      description: 'The shared Redis bus: none (single instance, no REDIS_URL), ready, or down (what needs it answers 503 BUS_UNAVAILABLE)'
    })
  },
  { $id: 'Health', additionalProperties: false }
)
export type Health = Static<typeof Health>
