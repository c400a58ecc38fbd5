// The Redis side of run ownership across instances, opened together: leases (run-leases.ts), the runs'
// fenced event streams and their follower (event-streams.ts), and commands to a run's owner
// (run-commands.ts). The simulation service sees only the ports (ports/run-registry.ts, ports/run-journal.ts).
import type { RedisBus } from './connection.js'
import { RedisEventStore, RedisStreamFollower } from './event-streams.js'
import { RedisRunCommands } from './run-commands.js'
import { RedisRunLeases } from './run-leases.js'

export interface RedisRunCluster {
  readonly leases: RedisRunLeases
  readonly events: RedisEventStore
  readonly follower: RedisStreamFollower
  readonly commands: RedisRunCommands
}

export async function openRunCluster (bus: RedisBus, instanceId: string, onError: (err: unknown) => void): Promise<RedisRunCluster> {
  const events = new RedisEventStore(bus.client)
  return {
    leases: new RedisRunLeases(bus.client),
    events,
    follower: new RedisStreamFollower(bus, events, onError),
    commands: await RedisRunCommands.open(bus, instanceId, onError)
  }
}
