import { describeCacheBehaviours } from '../shared/cache_behaviours';

describeCacheBehaviours('redis-script');
