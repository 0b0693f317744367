import { describeCacheBehaviours } from '../shared/cache_behaviours';

// The shared behaviours with an L1 over a private 3-master Redis Cluster (test/support/cluster.ts).
describeCacheBehaviours('l1+redis-cluster');
