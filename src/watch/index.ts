export { createWatchChannel, type WatchChannel, type WatchListener } from './sink.js';
