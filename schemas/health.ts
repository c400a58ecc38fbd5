// Liveness response.
import { Type, type Static } from '@sinclair/typebox'
import { Timestamp } from './common.js'

export const Health = Type.Object(
  {
    status: Type.Literal('ok'),
    version: Type.String(),
    uptime_sec: Type.Number(),
    server_time: Timestamp
  },
  { $id: 'Health', additionalProperties: false }
)
export type Health = Static<typeof Health>
