import { describeCacheBehaviours } from '../shared/cache_behaviours';

// The shared behaviours on a private 3-master Redis Cluster (test/support/cluster.ts).
describeCacheBehaviours('redis-cluster');
