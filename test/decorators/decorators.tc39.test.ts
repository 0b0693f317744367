import { describeDecoratorSuite } from './decorator_suite';

// Compiled without experimentalDecorators (see jest.config.ts): standard TC39 decorators.
describeDecoratorSuite('tc39');
